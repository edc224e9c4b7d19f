"""The graph's nodes, one per file: generate, execute, write_tests, review, finalize."""

from codeloop.nodes.execute import execute
from codeloop.nodes.finalize import finalize
from codeloop.nodes.generate import generate
from codeloop.nodes.review import review
from codeloop.nodes.write_tests import write_tests

__all__ = ["execute", "finalize", "generate", "review", "write_tests"]
