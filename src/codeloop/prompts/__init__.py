"""Prompt templates per model family, rendered strictly: a missing variable is an error.

Families: `chat` for instruct models with a chat template (the embedded Qwen coder,
chat models behind TGI); further families (completion-style StarCoder) plug in through
`prompt_set`.
"""

from __future__ import annotations

import functools
from importlib import resources
from string import Template
from typing import Any, Literal, Protocol

from langchain_core.messages import BaseMessage

from codeloop.state import Attempt

Family = Literal["chat"]
FAMILIES: tuple[str, ...] = ("chat",)


@functools.cache
def template(name: str) -> Template:
    """The template file `templates/<name>.txt`."""
    text = (resources.files(__package__) / "templates" / f"{name}.txt").read_text("utf-8")
    return Template(text)


def render(name: str, **values: Any) -> str:
    """Fill template `name`; raises KeyError naming any variable left undefined."""
    return template(name).substitute(values)


class PromptSet(Protocol):
    """What a family provides: the messages for each model call the loop makes."""

    def generation(
        self, task: str, constraints: str, previous: Attempt | None, human_feedback: str | None
    ) -> list[BaseMessage]:
        """Messages asking for a solution (with the findings after a failure)."""
        ...

    def test_writing(self, generation: list[BaseMessage], solution: str) -> list[BaseMessage]:
        """Messages asking for pytest tests of the solution just written."""
        ...

    def review(self, task: str, attempt: Attempt) -> list[BaseMessage]:
        """Messages asking for a structured verdict on `attempt`."""
        ...

    def repair(self, problem: str) -> BaseMessage:
        """A follow-up asking again for a verdict that parses."""
        ...


def prompt_set(family: str) -> PromptSet:
    """The prompts for `family`, or a ValueError listing the families there are."""
    if family == "chat":
        from codeloop.prompts.chat import ChatPrompts

        return ChatPrompts()
    raise ValueError(f"unknown prompt family {family!r}: use one of {', '.join(FAMILIES)}")
