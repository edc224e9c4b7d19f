"""A batch's progress: a bar on a terminal, one line per finished task on a pipe or log.

Both show done/total, how many are approved so far, the elapsed time and an ETA, all
kept by rich's progress task; on a Ray cluster, also how many workers are alive. The ETA
comes from the tasks finished in this invocation (skipped ones cost nothing), so it
reflects the real throughput at the chosen concurrency.
"""

from __future__ import annotations

from datetime import timedelta
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from codeloop.batch.outcome import Outcome

DAY = 24 * 3600.0  # tasks can take minutes each: estimate speed over the whole invocation


def clock(seconds: float | None) -> str:
    """Seconds as H:MM:SS, the way rich's time columns show them (`-:--:--` when unknown)."""
    return "-:--:--" if seconds is None else str(timedelta(seconds=int(seconds + 0.5)))


class BatchView:
    """Shows the batch's progress as tasks finish."""

    def __init__(self, console: Console, total: int, done: int, approved: int,
                 workers: int | None = None) -> None:
        self.console, self.approved = console, approved
        self.workers, self.alive = workers, 0
        self.bar = Progress(
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("done · approved {task.fields[approved]}{task.fields[workers]} · elapsed"),
            TimeElapsedColumn(),
            TextColumn("· ETA"),
            TimeRemainingColumn(),
            console=console,
            speed_estimate_period=DAY,
            disable=not console.is_terminal,
        )
        self.task_id = self.bar.add_task("batch", total=total, completed=done, approved=approved,
                                         workers=self._workers())

    @property
    def task(self) -> Task:
        """Rich's record of the batch: completed, total, elapsed and time remaining."""
        return self.bar.tasks[0]

    def __enter__(self) -> BatchView:
        self.bar.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.bar.__exit__(kind, error, trace)

    def _workers(self) -> str:
        return "" if self.workers is None else f" · workers {self.alive}/{self.workers}"

    def workers_alive(self, alive: int, nodes: int) -> None:
        """Show how many Ray workers can take work now (on a line of its own off a terminal)."""
        self.alive = alive
        self.bar.update(self.task_id, workers=self._workers())
        if not self.console.is_terminal:
            self.console.print(f"workers alive: {alive} of {self.workers} on {nodes} node(s)",
                               highlight=False)

    def advance(self, outcome: Outcome) -> None:
        """Count a task that just ended (an error does not count as done: it will rerun)."""
        self.approved += outcome.status == "approved"
        self.bar.update(self.task_id, advance=outcome.status != "error", approved=self.approved)
        if self.console.is_terminal:
            if outcome.error:
                self.bar.console.print(f"{outcome.id}: error: {outcome.error}", highlight=False)
            return
        task = self.task
        detail = outcome.error or f"{outcome.iterations} iteration(s), {outcome.seconds:.1f}s"
        self.console.print(
            f"[{task.completed:g}/{task.total:g}] {outcome.id} {outcome.status} ({detail}) · "
            f"approved {self.approved}{self._workers()} · elapsed {clock(task.elapsed)} · "
            f"ETA {clock(task.time_remaining)}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
