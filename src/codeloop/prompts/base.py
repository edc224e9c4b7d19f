"""What every prompt family shares: strict templates, the PromptSet protocol, trim marks."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from importlib import resources
from string import Template
from typing import Any, ClassVar, Literal, Protocol, TypeVar

from langchain_core.messages import BaseMessage

from codeloop.state import Attempt

Family = Literal["chat", "starcoder"]
FAMILIES: tuple[str, ...] = ("chat", "starcoder")
TRIM_KEY = "codeloop_trim_rank"
RULE_TEST = "test_rule_"  # the tests of stated rule n are named test_rule_<n>_... (nodes.rules)
M = TypeVar("M", bound=BaseMessage)


@functools.cache
def template(name: str) -> Template:
    """The template file `templates/<name>.txt`."""
    text = (resources.files(__package__) / "templates" / f"{name}.txt").read_text("utf-8")
    return Template(text)


def render(name: str, **values: Any) -> str:
    """Fill template `name`; raises KeyError naming any variable left undefined."""
    return template(name).substitute(values)


def numbered(rules: Sequence[str]) -> str:
    """The task's stated rules as a numbered list, one per line."""
    return "\n".join(f"{number}. {rule}" for number, rule in enumerate(rules, 1))


class PromptSet(Protocol):
    """What a family provides: the messages for each model call the loop makes."""

    stop: ClassVar[tuple[str, ...]]
    """Stop sequences for every call (at most 4, TGI's limit)."""

    def generation(
        self, task: str, constraints: str, previous: Attempt | None, human_feedback: str | None
    ) -> list[BaseMessage]:
        """Messages asking for a solution (with the findings after a failure)."""
        ...

    def test_writing(
        self, generation: list[BaseMessage], solution: str, rules: Sequence[str] = (),
        retry: bool = False, missing: Sequence[int] = (),
    ) -> list[BaseMessage]:
        """Messages asking for pytest tests of the solution, one per stated rule if any.

        `retry`: the tests written before could not run. `missing`: the numbers of the
        rules that no passing test checks yet; only their tests are asked for.
        """
        ...

    def review(self, task: str, attempt: Attempt, rules: Sequence[str] = ()) -> list[BaseMessage]:
        """Messages asking for a structured verdict on `attempt`, per stated rule if any."""
        ...

    def repair(self, problem: str) -> BaseMessage:
        """A follow-up asking again for a verdict that parses."""
        ...


def trimmable(message: M, rank: int) -> M:
    """Mark `message` as droppable when the prompt is too long; lower ranks go first."""
    message.additional_kwargs[TRIM_KEY] = rank
    return message


def trim_rank(message: BaseMessage) -> int | None:
    """Return the message's trim rank, or None if it must always be sent."""
    rank = message.additional_kwargs.get(TRIM_KEY)
    return rank if isinstance(rank, int) else None
