"""`scripted:/path/script.json`: a fake model read from a file, for tests and demos only.

A subprocess (a batch killed mid-way by a test, a benchmark of the batch machinery) cannot
be handed a Python object, so this backend reads its replies from a JSON file:

    {"delay": 0.2,                       # seconds each call takes (optional, default 0)
     "log": "/tmp/calls.jsonl",          # append one line per call (optional)
     "rules": [{"call": "solution", "contains": "add(", "reply": "<a reply with code>"},
               {"call": "tests", "reply": "<a reply with pytest tests>"},
               {"call": "review", "reply": "<a JSON verdict>"}]}

`call` is which request this is: `solution` (the first generation turn), `tests` (the
follow-up turn asking for tests) or `review` (a request with a JSON schema). The first
rule of that kind whose `contains` (optional) occurs in the prompt gives the reply, so
concurrent runs of different tasks each get their own answers. The delay is slept
outside any lock: concurrent calls overlap, as they would on a batching server.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatResult

from codeloop.models.scripted import ScriptedChatModel, ScriptExhaustedError

CALLS = ("solution", "tests", "review")


class ScriptFileChatModel(ScriptedChatModel):
    """A ScriptedChatModel answering by rules, with a per-call delay and a call log."""

    delay: float = 0.0
    log: str | None = None

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.delay:
            time.sleep(self.delay)
        result = super()._generate(messages, stop, run_manager, **kwargs)
        if self.log:
            self._append_log(messages, kwargs)
        return result

    def _append_log(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> None:
        human = next((m.text for m in messages if m.type == "human"), "")
        line = {"pid": os.getpid(), "call": call_kind(messages, kwargs), "prompt": human[:200]}
        with open(self.log or os.devnull, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(line) + "\n")


def call_kind(messages: list[BaseMessage], kwargs: dict[str, Any]) -> str:
    """Which request of the loop this is: solution, tests or review."""
    if kwargs.get("json_schema") is not None:
        return "review"
    return "tests" if any(isinstance(m, AIMessage) for m in messages) else "solution"


def load_script(path: str) -> ScriptFileChatModel:
    """The fake model described by the JSON file at `path`; a ValueError says what is wrong."""
    try:
        spec = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read model script {path}: {exc}") from None
    rules = spec.get("rules") if isinstance(spec, dict) else None
    if not isinstance(rules, list) or not all(_valid(r) for r in rules):
        raise ValueError(
            f"model script {path} needs a 'rules' list of {{call, contains?, reply}} with call "
            f"one of {', '.join(CALLS)}"
        )

    def answer(messages: list[BaseMessage], kwargs: dict[str, Any]) -> str:
        kind, prompt = call_kind(messages, kwargs), "\n".join(m.text for m in messages)
        for rule in rules:
            if rule["call"] == kind and rule.get("contains", "") in prompt:
                return str(rule["reply"])
        raise ScriptExhaustedError(f"model script {path} has no rule for this {kind} call")

    return ScriptFileChatModel(
        script=answer, delay=float(spec.get("delay", 0.0)), log=spec.get("log")
    )


def _valid(rule: object) -> bool:
    return (
        isinstance(rule, dict)
        and rule.get("call") in CALLS
        and isinstance(rule.get("reply"), str)
        and isinstance(rule.get("contains", ""), str)
    )
