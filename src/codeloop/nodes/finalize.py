"""finalize: the run's outcome, with the approved attempt or else the best one."""

from __future__ import annotations

from codeloop.state import Attempt, State


def finalize(state: State) -> dict[str, object]:
    """Settle the status and pick the attempt to hand back."""
    attempts = state.get("attempts") or []
    approved = [a for a in attempts if a.get("approved")]
    final = approved[-1] if approved else best_attempt(attempts)
    status = "approved" if approved else "not_approved"
    return {"status": status, "final": final}


def best_attempt(attempts: list[Attempt]) -> Attempt | None:
    """Most tests passed, then the best review score, then the latest."""

    def rank(pair: tuple[int, Attempt]) -> tuple[int, int, int, int]:
        index, attempt = pair
        report = attempt.get("report") or {}
        verdict = attempt.get("verdict") or {}
        clean = int(report.get("status") == "passed")
        return (clean, int(report.get("passed", 0)), int(verdict.get("score", -1)), index)

    return max(enumerate(attempts), key=rank)[1] if attempts else None
