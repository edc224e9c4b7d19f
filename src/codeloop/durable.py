"""Durable runs: every run is a checkpointed LangGraph thread, resumable after any stop.

The run id is the thread id and the name of the run's result folder. A node's result is
saved before the next node starts, so after a crash or Ctrl-C the run continues from
its last finished node (a finished generate is not asked for again). The result folder
is written last, file by file through atomic renames; `report.json` comes last of all,
so a folder with a report is a finished run and anything less is not.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig

from codeloop.context import Context
from codeloop.results import new_result_dir, report_of, write_atomic
from codeloop.state import Attempt, check_task
from codeloop.store import RunRecord, Store, new_record
from codeloop.workflow import Progress, RunResult, run_task

REPORT = "report.json"
RESULT_FILES = ("solution.py", "test_solution.py", REPORT)


def settings_of(context: Context) -> dict[str, Any]:
    """The Context's own fields as JSON, stored with the run so `resume` can rebuild it."""
    return {f.name: getattr(context, f.name) for f in dataclasses.fields(Context)}


def context_of_run(record: RunRecord, **overrides: Any) -> Context:
    """The Context a run was started with (fields this version does not know are dropped)."""
    known = {f.name for f in dataclasses.fields(Context)}
    settings = {k: v for k, v in record.settings.items() if k in known}
    return Context(**{**settings, **{k: v for k, v in overrides.items() if v is not None}})


def create_run(store: Store, task: str, context: Context, out: Path) -> RunRecord:
    """Index a new run named like its result folder (`<timestamp>-<slug>`, made unique)."""
    task = check_task(task)
    base = new_result_dir(out, task)
    for n in range(1, 1000):
        folder = base if n == 1 else base.with_name(f"{base.name}-{n}")
        record = new_record(folder.name, task, settings_of(context), folder)
        if not folder.exists() and store.register(record):
            return record
    raise RuntimeError(f"cannot find a free run id near {base.name}")


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
    snapshot = store.graph.get_state(config)
    if snapshot.values and not _unfinished(snapshot):
        return _result(record, context, snapshot.values)
    return run_task(
        record.task,
        context,
        on_progress,
        compiled=store.graph,
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


def write_run(record: RunRecord, result: RunResult) -> dict[str, Any]:
    """Write the run's folder (code, tests, then report.json) and return the report.

    Temporary files left by a process killed in the middle of a write are removed first,
    so no partial file survives a rerun.
    """
    folder = Path(record.result_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for name in RESULT_FILES:
        for stale in folder.glob(f".{name}.*"):
            stale.unlink(missing_ok=True)
    result = dataclasses.replace(result, context=context_of_run(record))
    report = {"run_id": record.run_id, **report_of(result)}
    final = result.final or {"code": "", "tests": ""}
    write_atomic(folder / "solution.py", final["code"])
    write_atomic(folder / "test_solution.py", final["tests"])
    write_atomic(folder / REPORT, json.dumps(report, indent=2) + "\n")
    return report


def written_report(record: RunRecord) -> dict[str, Any] | None:
    """The report of a run whose folder is complete, else None."""
    path = Path(record.result_dir) / REPORT
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return report if isinstance(report, dict) else None


def run_status(store: Store, run_id: str) -> tuple[str, dict[str, Any]]:
    """A run's status from its checkpoint (`pending`, `unfinished` or its outcome) and values."""
    snapshot = store.graph.get_state(config_of(run_id))
    values = dict(snapshot.values or {})
    if _unfinished(snapshot):
        return "unfinished", values
    if not values:
        return "pending", values
    return str(values.get("status", "error")), values
