"""execute: syntax-check the attempt, run its tests in the sandbox, and judge its checks.

Two sandbox runs: pytest over the test file (the report the model and the person read),
and the checks (the task's examples, the user's and the model's `f(x) == literal` tests),
whose calls are made in the sandbox and compared here, outside the tested process. The
checks decide approval: see nodes.checks.
"""

from __future__ import annotations

import ast
import time

from langgraph.runtime import Runtime

from codeloop.context import Context, context_of
from codeloop.nodes.checks import checks_for, refute, run_checks, trusted_pass
from codeloop.nodes.extract import UNPARSABLE
from codeloop.nodes.rules import anchored
from codeloop.sandbox import Limits, TestReport, run_sandboxed
from codeloop.state import Attempt, State


def execute(state: State, runtime: Runtime[Context]) -> dict[str, object]:
    """Attach a test report and judged checks to the current attempt."""
    ctx = context_of(runtime.context)
    attempt = state["current"]
    started = time.monotonic()
    limits = Limits(wall_seconds=ctx.test_timeout)
    problem = _syntax_problem(attempt)
    report = problem or run_sandboxed(attempt["code"], attempt["tests"], limits)
    done: Attempt = {**attempt, "report": report.as_state()}
    if problem is None:
        wanted = checks_for(state["task"], attempt["code"], state.get("extra_tests") or "",
                            attempt.get("model_tests") or "")
        done["checks"] = run_checks(attempt["code"], wanted, limits)
        if trusted_pass(done):
            earlier = state.get("attempts") or []
            done["checks"] = refute(done["checks"], earlier, anchored(done), state["task"])
    done["seconds"] = {**attempt["seconds"], "execute": round(time.monotonic() - started, 3)}
    return {"current": done}


def _syntax_problem(attempt: Attempt) -> TestReport | None:
    """A report for attempts that cannot run: no code, or code that does not compile."""
    if attempt["parse_error"]:
        return TestReport(status="error", detail=f"not run: {attempt['parse_error']}")
    for name, source in (("solution.py", attempt["code"]), ("test_solution.py", attempt["tests"])):
        try:
            ast.parse(source, filename=name)
        except SyntaxError as exc:
            return TestReport(status="error", detail=f"{name} line {exc.lineno}: {exc.msg}")
        except UNPARSABLE as exc:  # nested too deep for Python's parser, a null byte
            return TestReport(status="error", detail=f"{name}: Python cannot parse it "
                              f"({type(exc).__name__}: {exc or 'nested too deep'})")
    return None
