"""Hand work to Ray workers, one piece per free slot, and retry what a dying worker dropped.

The driver keeps every call in flight in one `ray.wait` and handles each as it ends. A call
that fails because its worker died (its process killed, its node lost) goes back to the
front of the queue, for the next free slot of any live worker: a batch run resumes there
from its last checkpoint, an evaluation starts over. Ray meanwhile restarts the dead worker
(`max_restarts`); a ping, which Ray holds through a restart (`max_task_retries=-1`), tells
the driver when it can take work again. A piece of work whose worker dies MAX_TRIES times
ends as an error, so a batch always ends, and each piece ends exactly once.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import ray
from ray.exceptions import RayError, RayTaskError

from codeloop.batch.ray_workers import Finished, WorkerBroken

MAX_TRIES = 3
WAIT_SECONDS = 0.5  # how often the driver checks for Ctrl-C while waiting
# No worker alive this long (none could be placed, or all keep dying) ends the work.
NO_WORKER_SECONDS = 600.0
Call = Callable[[Any, Any], Any]  # (worker handle, payload) -> ObjectRef
OnWorkers = Callable[[int, int], None]  # (workers alive, nodes they are on)


class WorkerLost(RuntimeError):
    """A piece of work could not be finished because workers kept dying under it."""


class WorkersFailed(RuntimeError):
    """No worker could start (a setup error: a model that does not load, say)."""


@dataclass
class Job:
    """A piece of work: its key (a task id), what the call needs, how often it was tried."""

    key: str
    payload: Any
    tries: int = 0


@dataclass(frozen=True)
class Done:
    """A finished piece of work: the worker's Finished, or the error that ended it."""

    job: Job
    finished: Finished | None
    error: BaseException | None = None
    round_trip: float = 0.0  # seconds from sending the call to seeing its result


@dataclass
class _Flight:
    worker: int
    job: Job
    sent: float = field(default_factory=time.monotonic)


class WorkerPool:
    """Workers with `slots` calls each in hand; knows which are alive."""

    def __init__(self, workers: list[Any], slots: int) -> None:
        self.workers, self.slots = workers, slots
        self.up = [False] * len(workers)
        self.gone = [False] * len(workers)
        self.busy = [0] * len(workers)
        self.where: list[str | None] = [None] * len(workers)
        self.cause: str | None = None  # why the first worker that died for good died
        self.flights: dict[Any, _Flight] = {}
        self.pings: dict[Any, int] = {w.ping.remote(): i for i, w in enumerate(workers)}
        self.last_alive = time.monotonic()
        self.started = False  # whether any worker ever answered

    @property
    def alive(self) -> int:
        """Workers started and able to take work now."""
        return sum(self.up)

    @property
    def nodes(self) -> int:
        """The nodes the live workers are on."""
        return len({str(w).split("/")[0] for w, up in zip(self.where, self.up, strict=True) if up})

    def run(self, jobs: list[Job], call: Call, check: Callable[[], None],
            on_workers: OnWorkers | None = None) -> Iterator[Done]:
        """Yield each job's Done as it ends; `check` (Ctrl-C) is called every WAIT_SECONDS."""
        queue = deque(jobs)
        seen = (-1, -1)
        while queue or self.flights:
            check()
            if on_workers and (self.alive, self.nodes) != seen:
                seen = (self.alive, self.nodes)
                on_workers(*seen)
            self._dispatch(queue, call)
            if queue and not self.flights and self._hopeless():
                if not self.started and all(self.gone):
                    raise WorkersFailed(f"the Ray workers could not start: {self.cause}")
                yield from (Done(job, None, WorkerLost(self._no_worker())) for job in queue)
                return
            ready, _ = ray.wait([*self.flights, *self.pings], num_returns=1, timeout=WAIT_SECONDS)
            for ref in ready:
                if ref in self.pings:
                    self._answered(ref)
                else:
                    done = self._landed(ref, queue)
                    if done is not None:
                        yield done

    def stop(self, grace: float) -> tuple[list[Done], int]:
        """Stop runs at a checkpoint: the ones done within `grace`, and how many are not."""
        for i, worker in enumerate(self.workers):
            if self.up[i]:
                worker.stop.remote()
        flights = list(self.flights)
        ready, rest = ray.wait(flights, num_returns=len(flights), timeout=grace) if flights \
            else ([], [])
        finished = [self._landed(ref, deque()) for ref in ready]
        return [d for d in finished if d and d.finished and d.finished.value is not None], len(rest)

    def _dispatch(self, queue: deque[Job], call: Call) -> None:
        while queue:
            free = [i for i, up in enumerate(self.up) if up and self.busy[i] < self.slots]
            if not free:
                return
            i = min(free, key=lambda n: self.busy[n])
            job = queue.popleft()
            self.busy[i] += 1
            self.flights[call(self.workers[i], job.payload)] = _Flight(i, job)

    def _landed(self, ref: Any, queue: deque[Job]) -> Done | None:
        flight = self.flights.pop(ref)
        self.busy[flight.worker] -= 1
        try:
            finished: Finished = ray.get(ref)
        except RayTaskError as exc:  # the work itself raised: that is its outcome
            return Done(flight.job, None, exc.cause or exc)
        except RayError as exc:  # the worker died under it: try again elsewhere
            self._lost(flight.worker)
            flight.job.tries += 1
            if flight.job.tries >= MAX_TRIES:
                why = f"its worker died {flight.job.tries} times while running it ({_short(exc)})"
                return Done(flight.job, None, WorkerLost(why))
            queue.appendleft(flight.job)
            return None
        self.last_alive = time.monotonic()
        return Done(flight.job, finished, None, time.monotonic() - flight.sent)

    def _lost(self, i: int) -> None:
        """Worker `i` died: no work for it until Ray has restarted it and it answers a ping."""
        if self.up[i]:
            self.up[i] = False
            self.pings[self.workers[i].ping.remote()] = i

    def _answered(self, ref: Any) -> None:
        i = self.pings.pop(ref)
        try:
            self.where[i] = ray.get(ref)
        except RayError as exc:  # out of restarts, or it could not start at all
            self.gone[i] = True
            self.cause = self.cause or _short(exc)
            return
        self.up[i] = self.started = True
        self.last_alive = time.monotonic()

    def _hopeless(self) -> bool:
        if self.alive:
            self.last_alive = time.monotonic()
            return False
        return all(self.gone) or time.monotonic() - self.last_alive > NO_WORKER_SECONDS

    def _no_worker(self) -> str:
        if all(self.gone):
            return f"no worker left: {self.cause}"
        return f"no worker has been alive for {NO_WORKER_SECONDS:g} s (the cluster has no room?)"


def _short(exc: BaseException) -> str:
    """A Ray error in one line: its first line of text, which names what happened."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, WorkerBroken):
        return str(cause)
    if isinstance(cause, BaseException):
        return f"{type(cause).__name__}: {' '.join(str(cause).split())}"[:300]
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return (lines[0] if lines else type(exc).__name__)[:300]


__all__ = ["MAX_TRIES", "Done", "Job", "OnWorkers", "WorkerLost", "WorkerPool", "WorkersFailed"]
