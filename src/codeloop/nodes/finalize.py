"""finalize: the run's outcome, with the approved attempt or else the best one."""

from __future__ import annotations

from typing import Any

from codeloop.nodes.checks import TRUSTED, ready_for_review
from codeloop.state import Attempt, State


def finalize(state: State) -> dict[str, object]:
    """Settle the status and pick the attempt to hand back."""
    attempts = state.get("attempts") or []
    approved = [a for a in attempts if a.get("approved")]
    final = approved[-1] if approved else best_attempt(attempts)
    status = "approved" if approved else "not_approved"
    return {"status": status, "final": final}


def best_attempt(attempts: list[Attempt]) -> Attempt | None:
    """The attempt most likely right when none was approved.

    In order: most of the task's own checks passed (its examples and the user's tests,
    which are trusted and judged outside the tested process; the model's own expected
    values are often wrong), nothing but refuted checks failing, most tests passed, the
    best review score, and on a tie the earliest attempt (later ones were written to
    satisfy tests that may themselves be wrong).
    """

    def rank(pair: tuple[int, Attempt]) -> tuple[int, int, int, int, int]:
        index, attempt = pair
        report: dict[str, Any] = dict(attempt.get("report") or {})
        passed = {t["name"] for t in report.get("tests", []) if t["outcome"] == "passed"}
        checks = attempt.get("checks", [])
        trusted = sum(c["outcome"] == "passed" for c in checks if c["origin"] in TRUSTED)
        clean = int(ready_for_review(attempt))
        verdict: dict[str, Any] = dict(attempt.get("verdict") or {})
        score = int(verdict.get("score", -1))
        return (trusted, clean, len(passed), score, -index)

    return max(enumerate(attempts), key=rank)[1] if attempts else None
