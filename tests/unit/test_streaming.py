"""Streamed replies: chunks of several tokens whose usage adds up, counted by the live view."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from codeloop.models import local
from codeloop.models.local import LlamaChatModel, ModelTimeoutError
from codeloop.runs.runner import Progress, run_task
from tests.helpers import CharEngine, reply_with_code, reply_with_tests, reply_with_verdict
from tests.unit.test_graph import ADD, ADD_TESTS, TASK

REPLY = "def add(a, b):\n    return a + b\n"


@pytest.mark.parametrize(("every", "chunks"), [(0.0, len(REPLY)), (3600.0, 1)])
def test_a_stream_sends_what_was_written_each_interval_and_its_usage_adds_up(
    monkeypatch: pytest.MonkeyPatch, every: float, chunks: int
) -> None:
    monkeypatch.setattr(local, "STREAM_EVERY", every)
    model = LlamaChatModel(CharEngine(REPLY))  # type: ignore[arg-type]
    parts = list(model.stream([HumanMessage("add")]))
    assert len([p for p in parts if p.text]) == chunks
    assert "".join(p.text for p in parts) == REPLY
    whole = sum(parts[1:], parts[0])
    assert whole.usage_metadata is not None
    assert whole.usage_metadata["output_tokens"] == len(REPLY)
    assert whole.usage_metadata["input_tokens"] == 10
    assert whole.response_metadata["finish_reason"] == "stop"


def test_every_call_runs_on_the_engines_one_thread_whichever_thread_asks() -> None:
    engine = CharEngine(REPLY)
    model = LlamaChatModel(engine)  # type: ignore[arg-type]
    with ThreadPoolExecutor(max_workers=2) as callers:
        replies = list(callers.map(lambda _: model.invoke([HumanMessage("add")]).text, range(4)))
    assert replies == [REPLY] * 4
    assert len(engine.callers) == 1 and threading.get_ident() not in engine.callers


def test_closing_a_stream_stops_the_generation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "STREAM_EVERY", 0.0)
    engine = CharEngine("x" * 5000, delay=0.001)
    stream = LlamaChatModel(engine).stream([HumanMessage("go")])  # type: ignore[arg-type]
    assert next(stream).text == "x"
    stream.close()
    engine.thread.submit(lambda: None).result()  # the engine is free again
    assert engine.pulled < 100


def test_a_begun_reply_held_to_a_json_schema_is_refused_in_one_line() -> None:
    model = LlamaChatModel(CharEngine(REPLY))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^a begun reply cannot also be held to a JSON schema$"):
        model.invoke([HumanMessage("add"), AIMessage("{")], json_schema={"type": "object"})
    assert model.invoke([HumanMessage("add")]).text == REPLY  # still usable afterwards


def test_a_timeout_on_the_engines_thread_is_raised_to_the_caller() -> None:
    model = LlamaChatModel(CharEngine("x" * 5000, delay=0.001))  # type: ignore[arg-type]
    with pytest.raises(ModelTimeoutError, match=r"took longer than 0\.05 s"):
        model.invoke([HumanMessage("go")], timeout=0.05)


def test_the_live_view_counts_the_tokens_the_run_was_charged(scripted) -> None:
    context, _ = scripted(
        [reply_with_code(ADD), reply_with_tests(ADD_TESTS), reply_with_verdict(True, 9)]
    )
    seen: list[Progress] = []
    result = run_task(TASK, context, on_progress=seen.append)
    charged = sum(a["tokens"]["completion"] for a in result.attempts)
    assert charged > 3
    assert seen[-1].tokens == charged
