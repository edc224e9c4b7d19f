"""A run watched live: node, iteration, tests, score, tokens, time; Ctrl-C stops it cleanly."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

from codeloop.context import Context
from codeloop.runs.durable import drive
from codeloop.runs.runner import Progress, RunResult
from codeloop.runs.stopping import run_stoppable
from codeloop.runs.store import RunRecord, Store


def describe(p: Progress) -> str:
    """One line saying where the run is."""
    extra = " (second opinion)" if p.iteration > p.max_iterations else ""
    if p.best_of:
        extra += f" (best of {p.best_of}{', the last retry' if p.last_round else ''})"
    parts = [f"{p.node:<9}", f"iteration {p.iteration}/{p.max_iterations}{extra}"]
    if p.tests_total is not None:
        parts.append(f"tests {p.tests_passed}/{p.tests_total} passed")
    if p.score is not None:
        parts.append(f"review {p.score}/10")
    parts += [f"{p.tokens} tokens", f"{p.elapsed:5.1f}s"]
    return " · ".join(parts)


class LiveView:
    """A spinner line on a terminal; on a pipe or log, one plain line per node instead."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.live: Live | None = None
        self.last_node: str | None = None

    def __enter__(self) -> LiveView:
        if self.console.is_terminal:
            self.live = Live(console=self.console, refresh_per_second=8, transient=True)
            self.live.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self.live:
            self.live.__exit__(kind, error, trace)

    def update(self, progress: Progress) -> None:
        """Show the latest progress (called for every node and every model token)."""
        if self.live:
            self.live.update(Spinner("dots", Text(describe(progress))))
        elif progress.node != self.last_node:
            self.console.print(describe(progress), highlight=False)
        self.last_node = progress.node


def run_live(
    store: Store, record: RunRecord, context: Context, err: Console, hint: str
) -> RunResult:
    """Drive the run with the live view; Ctrl-C prints `hint`, how to pick it up again.

    Ctrl-C lets the node in progress finish and be saved first (see codeloop.runs.stopping).
    """
    try:
        with LiveView(err) as view:
            return run_stoppable(
                lambda check: drive(store, record, context, checked(check, view.update)),
                lambda: err.print("stopping after the current step (Ctrl-C again to quit now)"),
            )
    except KeyboardInterrupt:
        err.print(f"stopped; continue with: {hint}", highlight=False, markup=False)
        raise


def checked(
    check: Callable[[], None], show: Callable[[Progress], None]
) -> Callable[[Progress], None]:
    """A progress callback that first gives a requested stop its chance to happen."""

    def update(progress: Progress) -> None:
        check()
        show(progress)

    return update
