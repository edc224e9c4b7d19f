"""Run the graph on one task and report progress as it goes (used by the CLI, batch and evals).

Which node runs next is read from LangGraph's own events (a checkpoint's `next`, a task's
start), so the routing rule lives in graph.route alone.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from langchain_core.runnables import RunnableConfig

from codeloop.context import Context
from codeloop.graph import graph
from codeloop.state import Attempt, Status, check_task
from codeloop.tracing import traced_run


@dataclass
class Progress:
    """What a run is doing now: enough for a one-line live view."""

    node: str = "generate"
    iteration: int = 1
    max_iterations: int = 1
    tests_passed: int | None = None
    tests_total: int | None = None
    score: int | None = None
    best_of: int | None = None  # the attempt is the best of this many candidates
    last_round: bool = False  # ... written as a retry's batch, which ends the rounds
    tokens: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self.started


@dataclass
class RunResult:
    """A finished run: its outcome and every attempt."""

    task: str
    status: Status
    final: Attempt | None
    attempts: list[Attempt]
    seconds: float
    context: Context


def run_task(
    task: str,
    context: Context,
    on_progress: Callable[[Progress], None] | None = None,
    compiled: Any = None,
    config: RunnableConfig | None = None,
    resume: bool = False,
) -> RunResult:
    """Run the loop on `task`, calling `on_progress` after every node and model token.

    With a checkpointer (`compiled`) and a thread id (`config`), every node's result is
    saved before the next node starts; `resume=True` continues that thread from its last
    checkpoint instead of starting over. The run is named and tagged for tracing (see
    codeloop.tracing); `config` adds to that.
    """
    task = check_task(task)
    compiled = compiled or graph
    progress = Progress(node="resuming" if resume else "generate",
                        max_iterations=context.max_iterations)
    values: dict[str, Any] = {}
    # Save each node's checkpoint before the next node starts (LangGraph refuses the
    # option on a graph without a checkpointer).
    durable = {"durability": "sync"} if getattr(compiled, "checkpointer", None) else {}
    with traced_run(task, context, config) as run_config:
        stream = compiled.stream(
            None if resume else {"task": task},
            config=run_config,
            context=context,
            # The model's tokens only for someone watching: each costs the model time.
            stream_mode=["checkpoints", "tasks", "updates", "values",
                         *(["messages"] if on_progress else [])],
            **durable,
        )
        # Closed here, not whenever the generator is collected: a stopped run ends (its
        # node finished and saved) before this returns, never later on another thread.
        with contextlib.closing(stream):
            for mode, payload in stream:
                if mode == "checkpoints":  # saved; the next node has not started yet
                    following = [n for n in payload["next"] if n != "__start__"]
                    progress.node = following[0] if following else progress.node
                elif mode == "tasks":
                    if "input" not in payload:
                        continue  # a task's end: its update follows
                    progress.node = payload["name"]  # a node starts (also without checkpoints)
                elif mode == "values":
                    values = payload
                    progress.iteration = payload.get("iteration") or progress.iteration
                elif mode == "messages":
                    progress.tokens += _tokens_in(payload[0])
                else:
                    _apply_update(progress, payload)
                if on_progress:
                    on_progress(progress)
    progress.node = "done"
    return RunResult(
        task=task,
        status=values.get("status", "error"),
        final=values.get("final"),
        attempts=values.get("attempts", []),
        seconds=progress.elapsed,
        context=context,
    )


def _tokens_in(chunk: Any) -> int:
    """The tokens a streamed chunk of text holds: its usage if it says, else one.

    The embedded model's chunks hold several. A chunk without text (TGI's last, with the
    whole reply's usage) holds none.
    """
    usage = getattr(chunk, "usage_metadata", None)
    if not getattr(chunk, "text", ""):
        return 0
    return usage["output_tokens"] if usage else 1


def _apply_update(progress: Progress, update: dict[str, Any]) -> None:
    for node, change in update.items():
        current = (change or {}).get("current") or {}
        if node == "generate":
            progress.iteration = current.get("iteration", progress.iteration)
            progress.tests_passed = progress.tests_total = progress.score = None
            progress.best_of = len(current.get("candidates") or []) or None
            progress.last_round = bool(current.get("last_round"))
        report = current.get("report")
        if node == "execute" and report:
            progress.tests_passed, progress.tests_total = report["passed"], report["total"]
        verdict = current.get("verdict")
        if node == "review":
            progress.score = verdict["score"] if verdict else None


__all__ = ["Progress", "RunResult", "run_task"]
