"""A batch on a Ray cluster: the same plan, runs and result folders as on threads, run elsewhere.

The driver (this process) plans the batch from the run index as a thread batch does, sends
each unfinished run to a worker (codeloop.batch.ray_pool), and writes each result folder
when the run comes back: workers write only checkpoints, so the cluster shares no
filesystem with the driver. Rerunning the command resumes the batch as on threads; a run
whose worker dies resumes on another worker from its last checkpoint.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from statistics import mean
from typing import Any

from codeloop.batch.outcome import BatchRun, Outcome, outcome_of
from codeloop.batch.ray_cluster import RaySettings
from codeloop.batch.ray_pool import Done, Job, OnWorkers, WorkerPool
from codeloop.batch.runner import STOP_GRACE_SECONDS, Batch, Plan, is_database_error
from codeloop.batch.tasks import BatchTask
from codeloop.runs.folders import write_run
from codeloop.runs.stopping import Stopped
from codeloop.runs.store import RunRecord, StoreError


class RayBatch:
    """Runs a batch's plan on the workers of a pool, writing every result here."""

    def __init__(self, batch: Batch, pool: WorkerPool, settings: RaySettings) -> None:
        self.batch, self.pool, self.settings = batch, pool, settings
        self.overheads: list[float] = []

    def run(
        self,
        plan: Plan,
        on_outcome: Callable[[Outcome], None] | None = None,
        check: Callable[[], None] | None = None,
        on_workers: OnWorkers | None = None,
    ) -> BatchRun:
        """Run the plan's unfinished tasks; Stopped from `check` or `on_outcome` ends it cleanly.

        After a stop, runs in progress get STOP_GRACE_SECONDS to reach a checkpoint; those
        that end meanwhile are written, the rest resume from their checkpoint on a rerun.
        """
        started = time.monotonic()
        outcomes = {o.id: o for o in plan.done}
        result = BatchRun(outcomes=[], problems=list(plan.conflicts.values()))
        jobs = [Job(task.id, (task, record)) for task, record in plan.todo]
        try:
            for done in self.pool.run(jobs, self._call, check or (lambda: None), on_workers):
                outcome = outcomes[done.job.key] = self._outcome(done)
                result.ran += 1
                if on_outcome:
                    on_outcome(outcome)
        except Stopped:
            result.interrupted = True
            finished, result.abandoned = self.pool.stop(STOP_GRACE_SECONDS)
            for done in finished:
                outcomes[done.job.key] = self._outcome(done)
                result.ran += 1
        result.outcomes = [outcomes.get(t.id) or Outcome.pending(t) for t in self.batch.tasks
                           if t.id not in plan.conflicts]
        result.seconds = time.monotonic() - started
        result.ray = self.figures()
        return result

    def figures(self) -> dict[str, Any]:
        """The cluster's part, for the summary: workers, their size, Ray's cost per run."""
        return {
            "address": self.settings.address or "local",
            "workers": len(self.pool.workers),
            "threads_per_worker": self.settings.threads,
            "runs_per_worker": self.settings.slots,
            "overhead_ms_per_run": round(1000 * mean(self.overheads), 1)
            if self.overheads else None,
        }

    def _call(self, worker: Any, payload: tuple[BatchTask, RunRecord]) -> Any:
        task, record = payload
        return worker.run.remote(record, self.batch.context_for(task, record))

    def _outcome(self, done: Done) -> Outcome:
        task, record = done.job.payload
        if done.error is not None:
            if is_database_error(done.error):  # the run database failed: every run would
                raise StoreError(f"the run database failed: {done.error}") from done.error
            return Outcome.failed(task, record, done.error)
        assert done.finished is not None and done.finished.value is not None
        self.overheads.append(max(0.0, done.round_trip - done.finished.seconds))
        report = write_run(record, done.finished.value)
        return dataclasses.replace(outcome_of(task, record, report), worker=done.finished.worker)


__all__ = ["RayBatch"]
