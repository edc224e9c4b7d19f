"""The graph's nodes, one per file: generate, execute, review, finalize."""

from codeloop.nodes.execute import execute
from codeloop.nodes.finalize import finalize
from codeloop.nodes.generate import generate
from codeloop.nodes.review import review

__all__ = ["execute", "finalize", "generate", "review"]
