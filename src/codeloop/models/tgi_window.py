"""Keep a prompt inside the server's token window: drop old feedback first, never the task.

TGI rejects a request whose prompt exceeds `max_input_tokens`, or whose prompt plus
`max_new_tokens` exceeds `max_total_tokens` (`/info` reports both). Prompt families mark
the messages that may go (the previous attempt's tests, its code, the findings) with a
trim rank (`codeloop.prompts.trim_rank`); the lowest rank goes first. What is left when
nothing more may go (the task, the instructions) is never cut: if it alone is too long,
the call fails with a message saying so.

Counting tokens costs a `/tokenize` request, so it is done only when it could matter: a
byte-level BPE token covers at least one byte, so a prompt of n UTF-8 bytes has at most
n tokens, and a prompt that fits by that bound needs no count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from langchain_core.messages import BaseMessage

from codeloop.prompts import trim_rank

# The reply must keep at least this much room (or the whole of a smaller request).
MIN_REPLY_TOKENS = 256


class PromptTooLongError(ValueError):
    """Even with every droppable part gone, the prompt does not fit the window."""


@dataclass(frozen=True)
class Window:
    """The server's limits, from `/info`."""

    max_input_tokens: int
    max_total_tokens: int


def fit(
    messages: list[BaseMessage],
    *,
    window: Window,
    max_new: int,
    render: Callable[[list[BaseMessage]], str],
    count: Callable[[str], int],
) -> tuple[list[BaseMessage], int]:
    """Return the messages to send and the reply's token budget, dropping marked parts."""
    kept = list(messages)
    while True:
        need = _tokens(render(kept), window, max_new, count)
        room = window.max_total_tokens - need
        if need <= window.max_input_tokens and room >= min(max_new, MIN_REPLY_TOKENS):
            return kept, min(max_new, room)
        ranked = [(rank, i) for i, m in enumerate(kept) if (rank := trim_rank(m)) is not None]
        if not ranked:
            raise PromptTooLongError(
                f"the prompt needs {need} tokens even without earlier feedback; the server "
                f"takes {window.max_input_tokens} input tokens and {window.max_total_tokens} "
                f"in all: shorten the task"
            )
        del kept[min(ranked)[1]]


def _tokens(text: str, window: Window, max_new: int, count: Callable[[str], int]) -> int:
    bound = len(text.encode("utf-8"))
    if bound <= window.max_input_tokens and bound + max_new <= window.max_total_tokens:
        return bound
    return count(text)
