"""Batch runs: the tasks of a JSONL file, run concurrently, each a durable run, none twice.

Each task is a durable run (codeloop.runs.durable) with the run id `<batch name>.<task id>`,
where the batch's name is its results folder's, and writes `<out>/<task id>/`. Rerunning the
same batch therefore finds every task where it was left: a task with a complete result
folder is skipped and its folder left untouched, an unfinished one resumes from its last
checkpoint, and a new one starts.

Concurrency is threads in one process: the embedded model is loaded once and its calls
are serialised by its engine's lock (the sandboxed tests of one task run meanwhile);
against TGI the requests overlap and the server batches them. The same plan runs on a
Ray cluster with codeloop.batch.ray_runner. A batch stops the way a
single run does (codeloop.runs.stopping): a check raises Stopped.
"""

from __future__ import annotations

import fcntl
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from codeloop.batch.outcome import BatchRun, Outcome, outcome_of
from codeloop.batch.tasks import BatchTask
from codeloop.context import Context
from codeloop.runs.durable import drive
from codeloop.runs.folders import write_run, written_report
from codeloop.runs.runner import Progress
from codeloop.runs.stopping import Stopped
from codeloop.runs.store import RunRecord, Store, StoreError, new_record, settings_of

# How long a stop waits for runs in flight to reach a checkpoint before leaving them.
STOP_GRACE_SECONDS = 3.0
LOCK_FILE = "batch.lock"
ContextFor = Callable[[BatchTask, RunRecord], Context]


@dataclass
class Plan:
    """The tasks sorted before a run: finished already, to run, in conflict (id: message)."""

    done: list[Outcome] = field(default_factory=list)
    todo: list[tuple[BatchTask, RunRecord]] = field(default_factory=list)
    conflicts: dict[str, str] = field(default_factory=dict)


@dataclass
class _Shared:
    stopping: threading.Event = field(default_factory=threading.Event)
    fatal: list[BaseException] = field(default_factory=list)


@contextmanager
def exclusive(out: Path) -> Iterator[None]:
    """Hold `out/batch.lock` so two batches never run the same tasks at once.

    The lock is an flock: the kernel drops it when the process ends, even by SIGKILL,
    so a killed batch never leaves a stale lock behind.
    """
    with open(out / LOCK_FILE, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StoreError(
                f"another codeloop batch is running in {out} (it holds {out / LOCK_FILE})"
            ) from None
        yield


def batch_name(out: Path) -> str:
    """The batch's name in run ids: its results folder's name, made id-safe."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", out.resolve().name).strip("-") or "batch"


class Batch:
    """Plans and runs the tasks of one batch against one store."""

    def __init__(
        self,
        store: Store,
        tasks: list[BatchTask],
        out: Path,
        base: Context,
        context_for: ContextFor,
    ) -> None:
        self.store, self.tasks, self.out = store, tasks, out
        self.base, self.context_for = base, context_for
        self.name = batch_name(out)

    def record_for(self, task: BatchTask) -> RunRecord:
        """The task's run record, created on first sight; a ValueError if the id is reused."""
        run_id, folder = f"{self.name}.{task.id}", self.out / task.id
        record = self.store.get(run_id)
        if record is None:
            settings = settings_of(self.base)
            if task.max_iterations is not None:
                settings["max_iterations"] = task.max_iterations
            self.store.register(new_record(run_id, task.task, settings, folder))
            record = self.store.get(run_id)
        assert record is not None
        if record.task != task.task:
            raise ValueError(f"id {task.id!r} was used for a different task before (run "
                             f"{run_id}); give this task a new id")
        if Path(record.result_dir) != folder.resolve():
            raise ValueError(f"run {run_id} already writes to {record.result_dir}; "
                             "use another --out folder name")
        return record

    def plan(self) -> Plan:
        """Sort the tasks: finished already, still to run, or in conflict with earlier runs."""
        plan = Plan()
        for task in self.tasks:
            try:
                record = self.record_for(task)
            except ValueError as exc:
                plan.conflicts[task.id] = f"line {task.line}: {exc}"
                continue
            report = written_report(record)
            if report is None:
                plan.todo.append((task, record))
            elif report.get("task") != task.task:
                plan.conflicts[task.id] = (f"line {task.line}: {record.result_dir} holds the "
                                           "result of a different task; give this task a new id")
            else:
                plan.done.append(outcome_of(task, record, report))
        return plan

    def run(
        self,
        plan: Plan,
        concurrency: int,
        on_outcome: Callable[[Outcome], None] | None = None,
        check: Callable[[], None] | None = None,
    ) -> BatchRun:
        """Run the plan's unfinished tasks, `concurrency` at a time.

        `check` (codeloop.runs.stopping's, under Ctrl-C) is called every half second; once
        it, or `on_outcome`, raises Stopped, no task starts any more, runs in flight get
        STOP_GRACE_SECONDS to reach a checkpoint, and the run comes back interrupted.
        """
        started = time.monotonic()
        shared = _Shared()
        outcomes = {o.id: o for o in plan.done}
        pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="batch")
        futures = {pool.submit(self._work, t, r, shared): t for t, r in plan.todo}
        result = BatchRun(outcomes=[], problems=list(plan.conflicts.values()))
        try:
            for outcome in _as_done(futures, shared, check or (lambda: None)):
                outcomes[outcome.id] = outcome
                result.ran += 1
                if on_outcome:
                    on_outcome(outcome)
        except Stopped:
            result.interrupted = True
            result.abandoned = _stop(pool, futures, shared)
            for outcome in _finished_meanwhile(futures, outcomes):
                outcomes[outcome.id] = outcome
                result.ran += 1
        else:
            pool.shutdown(wait=True)
        if shared.fatal:
            raise StoreError(f"the run database failed: {shared.fatal[0]}") from shared.fatal[0]
        result.outcomes = [outcomes.get(t.id) or Outcome.pending(t) for t in self.tasks
                           if t.id not in plan.conflicts]
        result.seconds = time.monotonic() - started
        return result

    def _work(self, task: BatchTask, record: RunRecord, shared: _Shared) -> Outcome:
        def check(_: Progress) -> None:
            if shared.stopping.is_set():
                raise Stopped

        if shared.stopping.is_set():
            raise Stopped
        try:
            result = drive(self.store, record, self.context_for(task, record), check)
            report = write_run(record, result)
        except Stopped:
            raise
        except Exception as exc:  # one task's failure is its outcome, not the batch's end...
            if not is_database_error(exc):
                return Outcome.failed(task, record, exc)
            shared.fatal.append(exc)  # ...unless the run database failed: that stops them all
            shared.stopping.set()
            raise Stopped from exc
        return outcome_of(task, record, report)


def _as_done(
    futures: dict[Future[Outcome], BatchTask], shared: _Shared, check: Callable[[], None]
) -> Iterator[Outcome]:
    """Outcomes as tasks finish; stops early when a fatal error stops the batch."""
    pending = set(futures)
    while pending and not shared.fatal:
        check()
        finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
        for future in finished:
            try:
                yield future.result()
            except Stopped:
                continue


def _finished_meanwhile(
    futures: dict[Future[Outcome], BatchTask], known: dict[str, Outcome]
) -> list[Outcome]:
    """Outcomes of runs that reached their end while the batch was stopping."""
    return [
        f.result() for f in futures
        if f.done() and not f.cancelled() and f.exception() is None
        and futures[f].id not in known
    ]


def _stop(pool: ThreadPoolExecutor, futures: dict[Future[Outcome], BatchTask],
          shared: _Shared) -> int:
    """Stop the batch: nothing new starts, runs in flight get a grace period to checkpoint."""
    shared.stopping.set()
    pool.shutdown(wait=False, cancel_futures=True)
    in_flight = [f for f in futures if not f.cancelled()]
    _, still = wait(in_flight, timeout=STOP_GRACE_SECONDS)
    return len(still)


def is_database_error(exc: BaseException) -> bool:
    """A failure of the run database (psycopg is optional, so it is matched by module)."""
    if isinstance(exc, (StoreError, sqlite3.DatabaseError)):
        return True
    return type(exc).__module__.startswith(("psycopg", "psycopg_pool"))


__all__ = ["STOP_GRACE_SECONDS", "Batch", "Plan", "batch_name", "exclusive", "is_database_error"]
