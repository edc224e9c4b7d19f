"""A batch on the embedded model at concurrency 2: one model load, llama.cpp calls never overlap."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codeloop import models
from codeloop.batch.runner import Batch
from codeloop.batch.tasks import BatchTask
from codeloop.context import Context
from codeloop.runs.store import RunRecord, context_of_run, open_store

pytestmark = pytest.mark.integration
TASKS = [
    "Write a function add(a, b) that returns the sum of a and b.",
    "Write a function is_even(n) that returns True when n is even, else False.",
]


class CallTracker:
    """Counts engines built and the most llama.cpp calls in progress at one time."""

    def __init__(self) -> None:
        self.engines = 0
        self.active = self.peak = self.calls = 0
        self.lock = threading.Lock()

    def enter(self) -> None:
        with self.lock:
            self.active += 1
            self.calls += 1
            self.peak = max(self.peak, self.active)

    def leave(self) -> None:
        with self.lock:
            self.active -= 1

    def wrap(self, create: Any) -> Any:
        def tracked(*args: Any, **kwargs: Any) -> Any:
            if not kwargs.get("stream"):
                self.enter()
                try:
                    return create(*args, **kwargs)
                finally:
                    self.leave()

            def stream() -> Iterator[Any]:
                self.enter()
                try:
                    yield from create(*args, **kwargs)
                finally:
                    self.leave()

            return stream()

        return tracked


@pytest.fixture
def tracker(monkeypatch: pytest.MonkeyPatch) -> Iterator[CallTracker]:
    from codeloop.models.local import LlamaEngine

    tracker, original = CallTracker(), LlamaEngine.__init__

    def init(self: LlamaEngine, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        tracker.engines += 1
        self.llama.create_chat_completion = tracker.wrap(self.llama.create_chat_completion)

    monkeypatch.setattr(LlamaEngine, "__init__", init)
    models._engine.cache_clear()  # no engine from an earlier test: this batch loads its own
    yield tracker
    models._engine.cache_clear()


def test_concurrent_batch_loads_the_embedded_model_once(
    tmp_path: Path, tracker: CallTracker
) -> None:
    tasks = [BatchTask(f"t{n}", task, 1, n) for n, task in enumerate(TASKS, start=1)]
    base = Context(model="local", max_iterations=1, max_new_tokens=256)

    def context_for(_: BatchTask, record: RunRecord) -> Context:
        return context_of_run(record)

    with open_store(tmp_path) as store:
        batch = Batch(store, tasks, tmp_path, base, context_for)
        run = batch.run(batch.plan(), concurrency=2)  # no warm-up: both threads load at once
    assert [o.status in ("approved", "not_approved") for o in run.outcomes] == [True, True], [
        o.error for o in run.outcomes]
    assert tracker.engines == 1
    assert tracker.calls >= 2 * 2  # solution and tests each (review only for passing code)
    assert tracker.peak == 1  # the engine lock serialised every call across the two threads
