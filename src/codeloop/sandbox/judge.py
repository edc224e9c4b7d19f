"""Turn what a run sent back into a TestReport, believing nothing short of a complete run.

"passed" needs all of: the supervisor's own record that the test process exited with
status 0 in time; no setup error, crash or tampering; a `finished` record; a result for
every collected test; at least one test, and at least one that passed. Records count
only when signed with this run's nonce. Everything else is "failed", "error" or
"timeout", with a one-line reason first in `detail`.
"""

from __future__ import annotations

import signal
from typing import Any

from codeloop.sandbox.collect import Gathered
from codeloop.sandbox.report import Limits, RunStatus, TestResult

OUTCOMES = ("passed", "failed", "error", "skipped")


def clean(text: object) -> str:
    """A string that survives UTF-8 encoding (the code may produce lone surrogates)."""
    return str(text).encode("utf-8", "replace").decode("utf-8")


def signed(gathered: Gathered, nonce: str) -> list[dict[str, Any]]:
    """The records carrying this run's nonce (forgeries and stray output are dropped)."""
    return [r for r in gathered.lines(gathered.records) if r.pop("nonce", None) == nonce]


def tests_of(records: list[dict[str, Any]], timed_out: bool, limits: Limits) -> list[TestResult]:
    """One result per reported test; on timeout, the test left running counts as an error."""
    tests = [
        TestResult(name=clean(r.get("name", "?")), message=clean(r.get("message", "")),
                   outcome=r["outcome"] if r.get("outcome") in OUTCOMES else "error")
        for r in records if r.get("kind") == "test"
    ]
    running = _running(records)
    if timed_out and running is not None:
        message = f"did not finish within the {limits.wall_seconds:g} s time limit"
        tests.append(TestResult(name=clean(running), outcome="error", message=message))
    return tests


def _running(records: list[dict[str, Any]]) -> str | None:
    started = [r.get("name") for r in records if r.get("kind") == "start"]
    finished = {r.get("name") for r in records if r.get("kind") == "test"}
    left = [name for name in started if name not in finished]
    return str(left[-1]) if left else None


def verdict(
    records: list[dict[str, Any]], status: list[dict[str, Any]], tests: list[TestResult],
    limits: Limits,
) -> tuple[RunStatus, str]:
    """The run's status and the reason, checked from the most to the least severe."""
    kinds = {r.get("kind") for r in records}
    end = next((s for s in status if s.get("kind") == "exit"), None)
    setup = next((s for s in status if s.get("kind") == "setup_error"), None)
    if setup is not None:
        return "error", f"the sandbox could not be set up: {setup.get('message')}"
    if end is None:
        return "error", "the sandbox's supervisor ended without a report"
    if end.get("timed_out"):
        return "timeout", _timeout_detail(records, "collected" in kinds, limits)
    tampered = [w for r in records if r.get("kind") == "tamper" for w in r.get("what", [])]
    if tampered:
        return "error", "the code under test tampered with the test runner: " + ", ".join(
            dict.fromkeys(map(str, tampered)))
    collect_errors = [r for r in records if r.get("kind") == "collect_error"]
    if collect_errors:
        return "error", f"collecting the tests failed:\n{collect_errors[0].get('message', '')}"
    return _completeness(records, tests, end, limits)


def _completeness(
    records: list[dict[str, Any]], tests: list[TestResult], end: dict[str, Any], limits: Limits
) -> tuple[RunStatus, str]:
    crash = next((r for r in records if r.get("kind") == "crash"), None)
    finished = any(r.get("kind") == "finished" for r in records)
    if end.get("code") != 0 or crash is not None or not finished:
        return "error", _early_end(end.get("code"), crash, limits)
    collected = next((r.get("names", []) for r in records if r.get("kind") == "collected"), [])
    missing = set(map(str, collected)) - {t.name for t in tests}
    if missing:
        return "error", f"tests without a result (the run was cut short): {sorted(missing)[:5]}"
    if not tests:
        return "error", "no tests were collected: write test functions named test_*"
    if any(t.outcome in ("failed", "error") for t in tests):
        return "failed", ""
    if not any(t.outcome == "passed" for t in tests):
        return "failed", "every test was skipped: nothing was checked"
    return "passed", ""


def _timeout_detail(records: list[dict[str, Any]], collected: bool, limits: Limits) -> str:
    where = "while importing the code and collecting the tests" if not collected else (
        f"in {_running(records) or 'the tests'}")
    return f"timeout: the run took longer than {limits.wall_seconds:g} s ({where})"


def _early_end(code: Any, crash: dict[str, Any] | None, limits: Limits) -> str:
    """Why a run ended without a complete report, in the words a programmer would use."""
    if isinstance(code, int) and code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
        if -code in (signal.SIGXCPU, signal.SIGKILL):
            return (f"the test process was killed by {name}: probably the CPU time limit "
                    f"({limits.cpu_seconds} s) or the memory limit")
        return f"the test process was killed by {name}"
    if crash is not None:
        return f"the test run crashed: {clean(crash.get('message', ''))}"
    return (f"the test process ended early (exit code {code}) without a complete report: "
            "the code must not exit the interpreter or close the runner's files")
