"""Durable runs: every run is a checkpointed LangGraph thread, resumable after any stop.

The run id is the thread id and the name of the run's result folder. A node's result is
saved before the next node starts, so after a crash or Ctrl-C the run continues from
its last finished node (a finished generate is not asked for again). The result folder
is written once the run ends (see codeloop.runs.folders).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig

from codeloop.context import Context
from codeloop.graph import build_graph
from codeloop.runs.folders import folder_name
from codeloop.runs.runner import Progress, RunResult, run_task
from codeloop.runs.store import RunRecord, Store, context_of_run, new_record, settings_of
from codeloop.state import Attempt, check_task

# The workflow compiled against each open store's checkpointer, built once per store.
_WORKFLOWS: weakref.WeakKeyDictionary[Store, Any] = weakref.WeakKeyDictionary()


def workflow_of(store: Store) -> Any:
    """The graph compiled with `store`'s checkpointer (thread id = run id)."""
    compiled = _WORKFLOWS.get(store)
    if compiled is None:
        compiled = _WORKFLOWS[store] = build_graph(checkpointer=store.saver)
    return compiled


def create_run(store: Store, task: str, context: Context, out: Path) -> RunRecord:
    """Index a new run named like its result folder (`<timestamp>-<slug>`, made unique)."""
    task = check_task(task)
    base = folder_name(task)
    for n in range(1, 1000):
        folder = out / (base if n == 1 else f"{base}-{n}")
        record = new_record(folder.name, task, settings_of(context), folder)
        if not folder.exists() and store.register(record):
            return record
    raise RuntimeError(f"cannot find a free run id near {base}")


def config_of(run_id: str) -> RunnableConfig:
    """The LangGraph config that addresses run `run_id`'s thread."""
    return {"configurable": {"thread_id": run_id}}


def drive(
    store: Store,
    record: RunRecord,
    context: Context | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> RunResult:
    """Take the run to its end: start it, resume it, or (already ended) just read it."""
    context = context or context_of_run(record)
    config = config_of(record.run_id)
    workflow = workflow_of(store)
    snapshot = workflow.get_state(config)
    if snapshot.values and not _unfinished(snapshot):
        return _result(record, context, snapshot.values)
    return run_task(
        record.task,
        context,
        on_progress,
        compiled=workflow,
        config=config,
        resume=_unfinished(snapshot),
    )


def _unfinished(snapshot: Any) -> bool:
    """Whether a thread has work left: a node to run, or saved node results to go on from.

    A run stopped right after a node finished has that node's results saved as pending
    writes and nothing in `next`; resuming applies them and goes on to the next node.
    """
    return bool(snapshot.next or snapshot.tasks)


def _result(record: RunRecord, context: Context, values: dict[str, Any]) -> RunResult:
    attempts: list[Attempt] = values.get("attempts") or []
    seconds = sum(sum(a["seconds"].values()) for a in attempts)
    return RunResult(
        task=record.task,
        status=values.get("status", "error"),
        final=values.get("final"),
        attempts=attempts,
        seconds=seconds,
        context=context,
    )


def run_status(store: Store, run_id: str) -> tuple[str, dict[str, Any]]:
    """A run's status from its checkpoint (`pending`, `unfinished` or its outcome) and values."""
    snapshot = workflow_of(store).get_state(config_of(run_id))
    values = dict(snapshot.values or {})
    if _unfinished(snapshot):
        return "unfinished", values
    if not values:
        return "pending", values
    return str(values.get("status", "error")), values
