"""Builders for scripted model replies and a Context that uses a scripted model."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from codeloop.context import Context
from codeloop.models import register_model
from codeloop.models.local import LlamaEngine

# `make run`'s demo task, with its one example on a line of its own: without an example
# nothing trusted anchors the 0.5B model's own tests, and on some CPUs' builds right code
# ended not approved (issue 15). The integration tests run the same task.
FIZZBUZZ = (Path(__file__).parents[1] / "examples" / "fizzbuzz.md").read_text(encoding="utf-8").strip()


def ScriptedContext(*, scripted: Any, **settings: Any) -> Context:
    """A Context whose model is `scripted`, registered in this process under a new name."""
    return Context(**{**settings, "model": register_model(scripted)})


def reply_with_code(code: str) -> str:
    return f"Here is the solution:\n\n```python\n{code.strip()}\n```\n"


def reply_with_tests(tests: str) -> str:
    return f"```python\nfrom solution import *\n\n{tests.strip()}\n```"


def reply_with_verdict(approved: bool, score: int, issues: list[str] | None = None) -> str:
    return json.dumps(
        {"issues": issues or [], "suggestions": [], "score": score, "approved": approved}
    )


class CharEngine:
    """llama.cpp's streaming interface, writing a reply one character (token) at a time,
    `delay` seconds each; it records the threads that called it."""

    path = "scripted.gguf"

    def __init__(self, reply: str, delay: float = 0.0) -> None:
        self.reply, self.pulled, self.delay, self.callers = reply, 0, delay, set()
        self.thread = ThreadPoolExecutor(max_workers=1)
        self.llama = self

    def start(self, messages: list[dict[str, Any]]) -> None:
        self.n_tokens = 0

    open = LlamaEngine.open  # the real engine's, over the stand-in completion below

    def create_chat_completion(self, **request: Any) -> Iterator[dict[str, Any]]:
        self.n_tokens = 10
        self.callers.add(threading.get_ident())
        for char in self.reply:
            time.sleep(self.delay)
            self.pulled += 1
            self.n_tokens += 1
            yield {"choices": [{"delta": {"content": char}, "finish_reason": None}]}
        yield {"choices": [{"delta": {}, "finish_reason": "stop"}]}
