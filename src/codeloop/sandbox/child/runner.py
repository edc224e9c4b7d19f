"""Run the generated tests with pytest and report each outcome as a signed JSON record.

This runs inside the confined test process. Records go to an inherited pipe, each
carrying this run's nonce, and only from the runner's own process (a forked child of
the code under test stays silent). The parent accepts a run as passed only when the
record stream is complete: every collected test reported, a final `finished` record,
no tampering found, and a clean exit seen by the supervisor.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import pytest

from .guard import RunnerGuard, install_audit_hook

MESSAGE_CHARS = 1200
RECORD_CHARS = 4000
TESTS_FILE = "test_solution.py"
_RANK = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}


class Emitter:
    """Writes nonce-signed records to the record pipe, from the runner's process only."""

    def __init__(self, fd: int, nonce: str) -> None:
        self._fd, self._nonce, self._pid = fd, nonce, os.getpid()
        self._write, self._getpid, self._dumps = os.write, os.getpid, json.dumps

    def __call__(self, record: dict[str, Any]) -> None:
        """Write one record (silently nothing in a process the code forked)."""
        if self._getpid() != self._pid:
            return
        record["nonce"] = self._nonce
        data = (self._dumps(record) + "\n").encode("utf-8", "replace")
        while data:
            data = data[self._write(self._fd, data):]


def _short_name(nodeid: str) -> str:
    return nodeid.split("::", 1)[-1] if "::" in nodeid else nodeid


def _message(report: Any) -> str:
    if report.skipped and isinstance(report.longrepr, tuple):
        text = str(report.longrepr[2])
    else:
        text = getattr(report, "longreprtext", "") or ""
    return text[-MESSAGE_CHARS:]


def _outcome(report: Any) -> str:
    """One phase's outcome; a failing setup or teardown is an error, xfail counts as skipped."""
    if report.failed:
        return "failed" if report.when == "call" else "error"
    return "skipped" if report.skipped else "passed"


class Reporter:
    """The pytest plugin: one record per test (worst phase wins), plus collection and end."""

    def __init__(self, emit: Callable[[dict[str, Any]], None], guard: RunnerGuard) -> None:
        self.emit, self.guard = emit, guard
        self.current: dict[str, dict[str, str]] = {}
        self.exit: Callable[[int], None] = os._exit

    @pytest.hookimpl(tryfirst=True)
    def pytest_configure(self, config: Any) -> None:
        """Short tracebacks: what the model needs, without the noise (no terminal plugin)."""
        config.option.tbstyle = "short"

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection(self, session: Any) -> None:
        """Snapshot the runner's world; the test module (untrusted) is imported next."""
        self.guard.snapshot(session.config.pluginmanager)

    def pytest_collectreport(self, report: Any) -> None:
        """Report a module that could not be imported or collected."""
        if report.failed:
            self.emit({"kind": "collect_error", "name": report.nodeid or "collection",
                       "message": _message(report)})

    def pytest_internalerror(self, excrepr: Any) -> None:
        """Report what broke pytest itself (e.g. SystemExit while importing the tests)."""
        crash = getattr(getattr(excrepr, "reprcrash", None), "message", None)
        lines = str(excrepr).strip().splitlines() or ["?"]
        self.emit({"kind": "crash", "message": str(crash or lines[-1])[:MESSAGE_CHARS]})

    def pytest_collection_finish(self, session: Any) -> None:
        """Announce every collected test, so a missing result cannot go unnoticed."""
        self.emit({"kind": "collected", "names": [_short_name(i.nodeid) for i in session.items]})

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        """Announce a test, so that a timeout can name the one that hung."""
        self.emit({"kind": "start", "name": _short_name(nodeid)})

    def pytest_runtest_logreport(self, report: Any) -> None:
        """Fold one phase (setup, call, teardown) into the test's worst outcome so far."""
        outcome = _outcome(report)
        best = self.current.setdefault(report.nodeid, {"outcome": "passed", "message": ""})
        if _RANK[outcome] > _RANK[best["outcome"]]:
            best.update(outcome=outcome, message=_message(report))

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        """Report the test's outcome and check that nothing tampered with the runner."""
        result = self.current.pop(nodeid, {"outcome": "error", "message": "no report"})
        self.emit({"kind": "test", "name": _short_name(nodeid), **result})
        self._check(full=False)

    def _check(self, full: bool) -> None:
        changes = self.guard.changes(full)
        if changes:
            self.emit({"kind": "tamper", "what": changes[:20]})

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: Any, exitstatus: int) -> None:
        """Check everything once more, report the end, and leave at once."""
        self._check(full=True)
        self.emit({"kind": "finished", "exitstatus": int(exitstatus),
                   "collected": int(session.testscollected)})
        _flush()
        self.exit(0)  # skip pytest's unconfigure: nothing of this process is kept


def _fresh_std_streams() -> None:
    """Open new sys.stdout/stderr on fds 1 and 2 (the zygote's may hold buffered bytes)."""
    for name, fd in (("stdout", 1), ("stderr", 2)):
        stream = open(fd, "w", encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # the code may have replaced or closed them
            stream.flush()


# pytest plugins that only add options or output we do not use; leaving them out saves
# about a third of pytest's start-up in the test process.
UNUSED_PLUGINS = ("terminal", "cacheprovider", "unraisableexception", "threadexception",
                  "stepwise", "pastebin", "doctest", "junitxml", "setuponly", "setupplan",
                  "faulthandler", "warnings")


def pytest_args(work: str) -> list[str]:
    """Pytest's command line: only our test file, no conftest, no plugins, no config files."""
    disabled = [arg for name in UNUSED_PLUGINS for arg in ("-p", f"no:{name}")]
    return [*disabled, "--noconftest", "-s", "-c", os.devnull, "--rootdir", work,
            "-o", "python_files=" + TESTS_FILE, os.path.join(work, TESTS_FILE)]


def run(
    work: str, records_fd: int, nonce: str, writable: tuple[str, ...], block_network: bool
) -> NoReturn:
    """Run the tests in `work`; never returns (the process ends with the run)."""
    emit = Emitter(records_fd, nonce)
    guard = RunnerGuard(extra_modules=(__name__, Emitter.__module__, RunnerGuard.__module__))
    install_audit_hook(writable, lambda event: emit({"kind": "tamper", "what": [event]}),
                       block_network)
    exit_now = os._exit
    _fresh_std_streams()
    try:
        pytest.main(pytest_args(work), plugins=[Reporter(emit, guard)])
        emit({"kind": "crash", "message": "pytest ended without finishing the session"})
    except BaseException as exc:
        emit({"kind": "crash", "message": f"{type(exc).__name__}: {exc}"[:RECORD_CHARS]})
    _flush()
    exit_now(3)


def warm_up(work: str) -> None:
    """Run pytest once in this (zygote) process so its lazily imported modules are loaded."""
    emit: Callable[[dict[str, Any]], None] = lambda record: None  # noqa: E731
    reporter = Reporter(emit, RunnerGuard(extra_modules=()))
    reporter.exit = lambda code: None
    pytest.main(pytest_args(work), plugins=[reporter])
