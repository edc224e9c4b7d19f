"""A batch's progress: a bar on a terminal, one line per finished task on a pipe or log.

Both show done/total, how many are approved so far, the elapsed time and an ETA. The
ETA extrapolates from the tasks finished in this invocation (skipped ones cost nothing),
so it reflects the real throughput at the chosen concurrency.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn

from codeloop.batch_report import Outcome


def clock(seconds: float | None) -> str:
    """Seconds as H:MM:SS (or `-` when unknown)."""
    if seconds is None:
        return "-:--:--"
    whole = int(seconds + 0.5)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


class BatchView:
    """Shows the batch's progress as tasks finish."""

    def __init__(self, console: Console, total: int, done: int, approved: int) -> None:
        self.console, self.total = console, total
        self.done, self.approved, self.ran = done, approved, 0
        self.started = time.monotonic()
        self.bar: Progress | None = None
        self.task_id: TaskID | None = None

    def __enter__(self) -> BatchView:
        if self.console.is_terminal:
            self.bar = Progress(
                BarColumn(),
                TextColumn("{task.completed}/{task.total} done"),
                TextColumn("· approved {task.fields[approved]}"),
                TextColumn("· elapsed {task.fields[elapsed]} · ETA {task.fields[eta]}"),
                console=self.console,
                transient=False,
            )
            self.bar.__enter__()
            self.task_id = self.bar.add_task(
                "batch", total=self.total, completed=self.done, **self._fields()
            )
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self.bar:
            self.bar.__exit__(kind, error, trace)

    def eta(self) -> float | None:
        """Seconds left at this invocation's throughput so far (None before the first task)."""
        if not self.ran:
            return None
        return (time.monotonic() - self.started) / self.ran * (self.total - self.done)

    def _fields(self) -> dict[str, Any]:
        return {
            "approved": self.approved,
            "elapsed": clock(time.monotonic() - self.started),
            "eta": clock(self.eta()),
        }

    def advance(self, outcome: Outcome) -> None:
        """Count a task that just ended (an error does not count as done: it will rerun)."""
        if outcome.status != "error":
            self.done += 1
            self.ran += 1
        self.approved += outcome.status == "approved"
        if self.bar and self.task_id is not None:
            self.bar.update(self.task_id, completed=self.done, **self._fields())
            if outcome.error:
                self.bar.console.print(f"{outcome.id}: error: {outcome.error}", highlight=False)
            return
        fields = self._fields()
        detail = outcome.error or f"{outcome.iterations} iteration(s), {outcome.seconds:.1f}s"
        self.console.print(
            f"[{self.done}/{self.total}] {outcome.id} {outcome.status} ({detail}) · approved "
            f"{fields['approved']} · elapsed {fields['elapsed']} · ETA {fields['eta']}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
