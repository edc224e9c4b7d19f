"""execute: syntax-check the attempt, then run its tests in the sandbox."""

from __future__ import annotations

import ast
import time

from langgraph.runtime import Runtime

from codeloop.context import Context, context_of
from codeloop.sandbox import Limits, TestReport, run_sandboxed
from codeloop.state import Attempt, State


def execute(state: State, runtime: Runtime[Context]) -> dict[str, object]:
    """Attach a test report to the current attempt (an empty one if there was nothing to run)."""
    ctx = context_of(runtime.context)
    attempt = state["current"]
    started = time.monotonic()
    report = _syntax_problem(attempt) or run_sandboxed(
        attempt["code"], attempt["tests"], Limits(wall_seconds=ctx.test_timeout)
    )
    seconds = {**attempt["seconds"], "execute": round(time.monotonic() - started, 3)}
    return {"current": {**attempt, "report": report.as_state(), "seconds": seconds}}


def _syntax_problem(attempt: Attempt) -> TestReport | None:
    """A report for attempts that cannot run: no code, or code that does not compile."""
    if attempt["parse_error"]:
        return TestReport(status="error", detail=f"not run: {attempt['parse_error']}")
    for name, source in (("solution.py", attempt["code"]), ("test_solution.py", attempt["tests"])):
        try:
            ast.parse(source, filename=name)
        except SyntaxError as exc:
            return TestReport(status="error", detail=f"{name} line {exc.lineno}: {exc.msg}")
    return None
