"""Turn what a run sent back into a verdict, believing nothing short of a complete run.

"passed" needs all of: the supervisor's record that the run ended in time; the init
process's record that the test process exited with status 0; no setup error, crash or
tampering; a `collected` and a `finished` record; a result for every collected test; at
least one test, and at least one that passed. The records were read strictly
(records.py): anything on the record socket that is not a signed, well-formed record
is a `tamper` record by now. Everything else is "failed", "error" or "timeout", with the
reason in `detail`.
"""

from __future__ import annotations

import signal
from typing import Any

from codeloop.sandbox.calls import CallResult, CallStatus
from codeloop.sandbox.records import Records, collected_names
from codeloop.sandbox.report import Limits, RunStatus, TestResult

OUTCOMES = ("passed", "failed", "error", "skipped")
PYTEST_ABORTED = {2: "interrupted", 3: "internal error", 4: "usage error"}


def clean(text: object) -> str:
    """Make a string that survives UTF-8 encoding (the code may print lone surrogates)."""
    return str(text).encode("utf-8", "replace").decode("utf-8")


def isolation_of(status: Records) -> str:
    """The isolation the supervisor reported for the run."""
    return str((first(status, "isolation") or {}).get("description", ""))


def cpu_of(status: Records) -> float:
    """The CPU seconds the test process used."""
    return float((first(status, "exit") or {}).get("cpu_seconds", 0.0))


def first(records: Records, kind: str) -> dict[str, Any] | None:
    """Find the first record of a kind (later ones could only come from a confused run)."""
    return next((r for r in records if r.get("kind") == kind), None)


def assess(
    records: Records, status: Records, limits: Limits
) -> tuple[RunStatus, str, list[TestResult]]:
    """Decide the run's status and the reason, and list one result per test."""
    setup, end = first(status, "setup_error"), first(status, "exit")
    if setup is not None:
        reason = f"the sandbox could not be set up: {setup.get('message')}"
        return "error", reason, tests_of(records, "")
    if end is None:
        return "error", "the sandbox's supervisor ended without a report", tests_of(records, "")
    state, detail, tests = _judge_run(records, status, end, limits)
    if end.get("oom_kills") and "memory limit" not in detail:
        detail = "; ".join(filter(None, [detail, _memory_note(end["oom_kills"], limits)]))
    return state, detail, tests


def _memory_note(kills: int, limits: Limits) -> str:
    total = (limits.memory_bytes + limits.disk_bytes) >> 20
    return (f"the kernel killed {kills} process(es) of the run for exceeding its memory limit "
            f"({total} MiB for all its processes and files)")


def _judge_run(
    records: Records, status: Records, end: dict[str, Any], limits: Limits
) -> tuple[RunStatus, str, list[TestResult]]:
    if end.get("timed_out"):
        cut = f"did not finish within the {limits.wall_seconds:g} s time limit"
        return "timeout", _timeout_detail(records, limits), tests_of(records, cut)
    abnormal = _abnormal_end(records, status, end, limits)
    tests = tests_of(records, abnormal or "")
    tampered = [w for r in records if r.get("kind") == "tamper" for w in r.get("what", [])]
    if tampered:
        what = ", ".join(dict.fromkeys(map(str, tampered)))
        return "error", f"the code under test tampered with the test runner: {what}", tests
    collect_error = first(records, "collect_error")
    if collect_error is not None:
        return "error", f"collecting the tests failed:\n{collect_error.get('message', '')}", tests
    if abnormal:
        return "error", abnormal, tests
    state, detail = _complete_run(records, tests)
    return state, detail, tests


def tests_of(records: Records, cut_short: str) -> list[TestResult]:
    """List one result per reported test.

    A test left running when the run was cut short counts as an error, with the
    reason `cut_short` as its message.
    """
    tests = [
        TestResult(name=clean(r.get("name", "?")), message=clean(r.get("message", "")),
                   outcome=r["outcome"] if r.get("outcome") in OUTCOMES else "error")
        for r in records if r.get("kind") == "test"
    ]
    running = _running(records)
    if cut_short and running is not None:
        tests.append(TestResult(name=clean(running), outcome="error", message=cut_short))
    return tests


def _running(records: Records) -> str | None:
    started = [r.get("name") for r in records if r.get("kind") == "start"]
    finished = {r.get("name") for r in records if r.get("kind") == "test"}
    left = [name for name in started if name not in finished]
    return str(left[-1]) if left else None


def _timeout_detail(records: Records, limits: Limits) -> str:
    if first(records, "collected") is None:
        where = "while importing the code and collecting the tests"
    else:
        where = f"in {_running(records) or 'the tests'}"
    return f"timeout: the run took longer than {limits.wall_seconds:g} s ({where})"


def _abnormal_end(
    records: Records, status: Records, end: dict[str, Any], limits: Limits
) -> str | None:
    """Why the test process ended without a complete report, or None if it did not."""
    exited, crash = first(status, "tests_exit"), first(records, "crash")
    code = exited.get("code") if exited else None
    if isinstance(code, int) and code < 0:
        if end.get("oom_kills"):
            return _memory_note(int(end["oom_kills"]), limits)
        return _killed_by(-code, float(end.get("cpu_seconds", 0.0)), limits)
    if crash is not None:
        return f"the test run crashed: {clean(crash.get('message', ''))}"
    finished = first(records, "finished")
    if finished is not None and finished.get("exitstatus") in PYTEST_ABORTED:
        return f"pytest aborted the run: {PYTEST_ABORTED[finished['exitstatus']]}"
    if code != 0 or finished is None:
        return (f"the test process ended early (exit code {code}) without a complete report: "
                "the code must not exit the interpreter or close the runner's files")
    return None


def _killed_by(number: int, cpu_seconds: float, limits: Limits) -> str:
    name = signal.Signals(number).name if number in signal.valid_signals() else str(number)
    if number == signal.SIGXCPU or (number == signal.SIGKILL and cpu_seconds >= limits.cpu_seconds):
        return f"the CPU time limit of {limits.cpu_seconds} s was exceeded ({name})"
    if number == signal.SIGSEGV:
        return "the test process crashed with a segmentation fault (SIGSEGV)"
    return f"the test process was killed by {name}"


def _complete_run(records: Records, tests: list[TestResult]) -> tuple[RunStatus, str]:
    collected = collected_names(records)
    if collected is None:
        return "error", "the run never reported which tests it collected"
    missing = collected - {t.name for t in tests}
    if missing:
        return "error", f"tests without a result (the run was cut short): {sorted(missing)[:5]}"
    if not tests:
        return "error", "no tests were collected: write test functions named test_*"
    if any(t.outcome in ("failed", "error") for t in tests):
        return "failed", ""
    if not any(t.outcome == "passed" for t in tests):
        return "failed", "every test was skipped: nothing was checked"
    return "passed", ""


def assess_calls(
    records: Records, status: Records, limits: Limits
) -> tuple[CallStatus, str, dict[str, CallResult]]:
    """Decide whether a run of calls was sound, and collect each call's result.

    The same evidence as a test run is needed (a timely supervisor exit, a clean exit of
    the probe, no tampering, a `finished` record, a result for every call); a result
    that does not parse counts as tampering, never as a value.
    """
    results, malformed = _call_results(records)
    setup, end = first(status, "setup_error"), first(status, "exit")
    if setup is not None:
        return "error", f"the sandbox could not be set up: {setup.get('message')}", results
    if end is None:
        return "error", "the sandbox's supervisor ended without a report", results
    running = _running(records) if not malformed else None
    if end.get("timed_out"):
        cut = f"did not finish within the {limits.wall_seconds:g} s time limit"
        if running is not None:
            results[running] = CallResult(name=running, cut_short=cut)
        where = f"in {running}" if running else "while importing the code"
        took = f"timeout: the calls took longer than {limits.wall_seconds:g} s ({where})"
        return "timeout", took, results
    tampered = [w for r in records if r.get("kind") == "tamper" for w in r.get("what", [])]
    if malformed:
        tampered.append("a malformed result record")
    if tampered:
        what = ", ".join(dict.fromkeys(map(str, tampered)))
        return "error", f"the code under test tampered with the checker: {what}", results
    collect_error = first(records, "collect_error")
    if collect_error is not None:
        return "error", str(collect_error.get("message", "")), results
    abnormal = _abnormal_end(records, status, end, limits)
    if abnormal:
        if running is not None:
            results[running] = CallResult(name=running, cut_short=abnormal)
        return "error", abnormal, results
    collected = collected_names(records)
    if collected is None:
        return "error", "the run never reported which calls it would make", results
    if collected - set(results):
        return "error", f"calls without a result: {sorted(collected - set(results))[:5]}", results
    return "done", "", results


def _call_results(records: Records) -> tuple[dict[str, CallResult], bool]:
    """Each call's result by name; True as well if any result record is malformed."""
    results: dict[str, CallResult] = {}
    malformed = False
    for record in records:
        if record.get("kind") != "check":
            continue
        try:
            result = CallResult.model_validate({k: v for k, v in record.items() if k != "kind"})
        except ValueError:
            malformed = True
            continue
        results.setdefault(result.name, result)
    return results, malformed
