"""Live progress on the terminal: which node runs, iteration, tests, score, tokens, time."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

from codeloop.workflow import Progress


def describe(p: Progress) -> str:
    """One line saying where the run is."""
    parts = [f"{p.node:<9}", f"iteration {p.iteration}/{p.max_iterations}"]
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
