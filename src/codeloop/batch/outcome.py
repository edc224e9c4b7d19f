"""How the tasks of a batch stand: one Outcome per task, and a BatchRun per invocation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeloop.batch.tasks import BatchTask
from codeloop.runs.store import RunRecord


@dataclass
class BatchRun:
    """What one invocation of a batch did; `outcomes` has one entry per valid task."""

    outcomes: list[Outcome]
    problems: list[str]
    seconds: float = 0.0
    interrupted: bool = False
    abandoned: int = 0
    ran: int = 0
    ray: dict[str, Any] | None = None  # on a Ray cluster: its workers and their overhead


@dataclass(frozen=True)
class Outcome:
    """How one task of the batch stands: its status, effort and result folder."""

    id: str
    run_id: str | None
    status: str
    iterations: int
    tokens: dict[str, int]
    seconds: float
    folder: str | None
    error: str | None = None
    worker: str | None = None  # on a Ray cluster: the node (id prefix) and process that ran it

    @classmethod
    def pending(cls, task: BatchTask) -> Outcome:
        """A task not finished yet (interrupted, or not reached)."""
        return cls(task.id, None, "pending", 0, {"prompt": 0, "completion": 0}, 0.0, None)

    @classmethod
    def failed(cls, task: BatchTask, record: RunRecord, exc: BaseException) -> Outcome:
        """A task whose run raised: it has no result folder and is retried on a rerun."""
        message = " ".join(str(exc).split()) or type(exc).__name__
        return cls(task.id, record.run_id, "error", 0, {"prompt": 0, "completion": 0}, 0.0,
                   None, message)


def outcome_of(task: BatchTask, record: RunRecord, report: dict[str, Any]) -> Outcome:
    """The outcome of a task from its written report."""
    return Outcome(
        id=task.id,
        run_id=record.run_id,
        status=str(report.get("status", "error")),
        iterations=int(report.get("iterations", 0)),
        tokens={k: int(v) for k, v in (report.get("tokens") or {}).items()},
        seconds=float(report.get("seconds", 0.0)),
        folder=Path(record.result_dir).name,
    )
