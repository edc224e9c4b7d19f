"""The Ray actor that does codeloop's work on a cluster node: graph runs, or benchmark problems.

A worker loads its models once, when it starts (the embedded one with `CODELOOP_THREADS`
llama.cpp threads, set by the driver in its runtime environment), then takes one piece of
work per slot at a time. It writes no file: a batch run's checkpoints go to the run
database, where any other worker can resume the run, and each result goes back to the
driver, which alone writes result folders, summaries and results.jsonl.

Ray restarts a worker whose process dies (`max_restarts`); the call it was running fails
at the driver, which gives the work to another worker (codeloop.batch.ray_pool).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray

from codeloop.batch.ray_cluster import RaySettings, check_portable, embedded, model_specs
from codeloop.context import Context
from codeloop.models import load_model
from codeloop.runs.durable import drive
from codeloop.runs.runner import Progress
from codeloop.runs.stopping import Stopped
from codeloop.runs.store import DB_ENV, RunRecord, Store, open_store

# A worker restarted this often has something wrong with it or its node; it is left dead.
MAX_RESTARTS = 10


class WorkerBroken(RuntimeError):
    """A worker started but cannot work: its model did not load (the message says why)."""


@dataclass(frozen=True)
class Finished:
    """What a worker hands back: the work's value (None if stopped first), its time, where."""

    value: Any
    seconds: float
    worker: str


@ray.remote
class RunWorker:
    """Holds the models and, for batches, the run database; runs work sent by the driver."""

    def __init__(self, base: Context, db_url: str | None, out: str) -> None:
        # The driver's run database, not whatever this node's environment names.
        if db_url:
            os.environ[DB_ENV] = db_url
        else:
            os.environ.pop(DB_ENV, None)
        self.out = Path(out)
        self.name = f"{ray.get_runtime_context().get_node_id()[:8]}/{os.getpid()}"
        self.stopping = threading.Event()
        self.resources = ExitStack()
        self.store: Store | None = None
        self.store_lock = threading.Lock()
        # A model that cannot load is the ping's answer, not a crash: Ray would restart
        # the worker again and again, printing the traceback every time.
        self.broken: str | None = None
        try:
            for spec in model_specs(base):
                load_model(spec, timeout=base.model_timeout)
        except Exception as exc:
            self.broken = f"{type(exc).__name__}: {' '.join(str(exc).split())}"

    @ray.method(max_task_retries=-1)
    def ping(self) -> str:
        """Answer once started (through any restart): the node and process it runs in."""
        if self.broken:
            raise WorkerBroken(self.broken)
        return self.name

    def run(self, record: RunRecord, context: Context) -> Finished:
        """Take a batch run to its end from its last checkpoint; None if asked to stop first."""
        started = time.monotonic()

        def check(_: Progress) -> None:
            if self.stopping.is_set():
                raise Stopped

        try:
            result: Any = drive(self._store(), record, context, check)
        except Stopped:
            result = None
        return Finished(result, time.monotonic() - started, self.name)

    def call(self, function: Callable[..., Any], *args: Any) -> Finished:
        """Call `function(*args)` here, with this worker's model loaded (an evaluation's solver).

        The driver hands the function over (Ray pickles it), so batch knows nothing of evals.
        """
        started = time.monotonic()
        return Finished(function(*args), time.monotonic() - started, self.name)

    def stop(self) -> None:
        """Make runs in progress stop at their next checkpoint."""
        self.stopping.set()

    def _store(self) -> Store:
        with self.store_lock:
            if self.store is None:  # opened on first use: evaluations need none
                self.store = self.resources.enter_context(open_store(self.out, create=False))
            return self.store


def start_workers(settings: RaySettings, base: Context, count: int, db_url: str | None,
                  out: Path) -> list[Any]:
    """Start `count` workers, spread over the cluster's nodes; they load their models meanwhile."""
    check_portable(base)
    heavy = embedded(base)
    options = RunWorker.options(  # type: ignore[attr-defined]
        num_cpus=settings.worker_cpus(heavy),
        max_restarts=MAX_RESTARTS,
        max_task_retries=0,  # the driver retries a dead worker's run elsewhere
        max_concurrency=settings.slots + 1,  # its runs, plus ping and stop beside them
        scheduling_strategy="SPREAD",
        runtime_env={"env_vars": {"CODELOOP_THREADS": str(settings.threads)}},
    )
    return [options.remote(base, db_url, str(out.resolve())) for _ in range(count)]


__all__ = ["Finished", "RunWorker", "WorkerBroken", "start_workers"]
