"""Run the generated tests with pytest and report each outcome as a signed JSON record.

This runs inside the confined test process. Records go to the record socket, each
carrying this run's nonce, and only from the runner's own process (a forked child of
the code under test stays silent; emit.py). The parent accepts a run as passed only
when the record stream is complete: the collected tests announced, every one of them
reported, a final `finished` record, no tampering found, and a clean exit seen by the
supervisor.

What can be checked from inside is checked: the runner's world (guard.py) and the
collected tests' code (collected.py) before and after every test, trace and profile
hooks, names the solution shadows, and, as they happen, the events the audit hook
flags (audit.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import pytest

from .audit import Audit
from .collected import CollectedTests, mock_wrapper_codes, shadowed_names
from .emit import Emitter
from .guard import RunnerGuard, hooks_set
from .guard import remember_code as remember_code_of

MESSAGE_CHARS = 1200
RECORD_CHARS = 4000
NAME_CHARS = 200
COLLECTED_CHUNK_CHARS = 12_000
TESTS_FILE = "test_solution.py"
_RANK = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}
# Taken in the zygote, before any untrusted code: mock's patch wrappers may wrap tests.
MOCK_WRAPPERS = mock_wrapper_codes()


def short_name(nodeid: str) -> str:
    """The test's name as reported: without the file, and bounded (long ids end in a hash)."""
    name = nodeid.split("::", 1)[-1] if "::" in nodeid else nodeid
    if len(name) <= NAME_CHARS:
        return name
    digest = hashlib.sha256(name.encode(errors="replace")).hexdigest()[:12]
    return f"{name[:NAME_CHARS - 20]}...{digest}"


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


def chunks(names: list[str]) -> list[list[str]]:
    """Split names so that no `collected` record comes near the record size limit."""
    parts: list[list[str]] = [[]]
    size = 0
    for name in names:
        if size + len(name) > COLLECTED_CHUNK_CHARS and parts[-1]:
            parts.append([])
            size = 0
        parts[-1].append(name)
        size += len(name) + 4
    return parts


class Reporter:
    """The pytest plugin: one record per test (worst phase wins), plus collection and end."""

    def __init__(self, emit: Callable[[dict[str, Any]], None], guard: RunnerGuard,
                 audit: Audit | None = None, tests_source: str = "") -> None:
        self.emit, self.guard, self.audit, self.tests_source = emit, guard, audit, tests_source
        self.collected = CollectedTests(MOCK_WRAPPERS)
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
        if self.audit is not None:
            self.audit.protect_ids(self.guard.function_ids())

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
        """Announce every collected test, so a missing result cannot go unnoticed.

        Then check that each is the test file's own code, and that the solution
        shadows none of the names the tests use.
        """
        for names in chunks([short_name(i.nodeid) for i in session.items]):
            self.emit({"kind": "collected", "names": names})
        if self.audit is None:
            return
        problems = self.collected.collect(session.items, self.audit.test_code)
        self._tamper(problems + hooks_set())
        self.audit.protect(self.collected.functions())
        functions = self.collected.functions()
        if functions and self.audit.test_code is not None and not problems:
            shadowed = shadowed_names(functions[-1].__globals__, self.audit.test_code,
                                      self.tests_source)
            if shadowed:
                self.emit({"kind": "collect_error", "name": "solution.py",
                           "message": "; ".join(shadowed)[:MESSAGE_CHARS]})

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        """Announce a test (a timeout can name it); check it is still what was collected."""
        self.emit({"kind": "start", "name": short_name(nodeid)})
        self._tamper(self.collected.changed(nodeid) + hooks_set())

    def pytest_runtest_logreport(self, report: Any) -> None:
        """Fold one phase (setup, call, teardown) into the test's worst outcome so far."""
        outcome = _outcome(report)
        best = self.current.setdefault(report.nodeid, {"outcome": "passed", "message": ""})
        if _RANK[outcome] > _RANK[best["outcome"]]:
            best.update(outcome=outcome, message=_message(report))

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        """Report the test's outcome and check that nothing tampered with the runner."""
        result = self.current.pop(nodeid, {"outcome": "error", "message": "no report"})
        self.emit({"kind": "test", "name": short_name(nodeid), **result})
        self._tamper(self.guard.changes(full=False) + self.collected.changed(nodeid))

    def _tamper(self, changes: list[str]) -> None:
        if changes:
            self.emit({"kind": "tamper", "what": [c[:300] for c in changes[:20]]})

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: Any, exitstatus: int) -> None:
        """Check everything once more, report the end, and leave at once."""
        self._tamper(self.guard.changes(full=True) + self.collected.changed())
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


# The runner's own modules, watched like pytest's.
OWN_MODULES = (__name__, Emitter.__module__, RunnerGuard.__module__, Audit.__module__,
               CollectedTests.__module__)


def remember_code() -> None:
    """Record the code of pytest's and the runner's functions (in the zygote, once)."""
    remember_code_of(OWN_MODULES)


def run(work: str, emit: Emitter, writable: tuple[str, ...], block_network: bool) -> NoReturn:
    """Run the tests in `work`; never returns (the process ends with the run)."""
    tests_file = os.path.join(work, TESTS_FILE)
    with open(tests_file, encoding="utf-8", errors="replace") as handle:
        tests_source = handle.read()  # read before any untrusted code can rewrite it
    guard = RunnerGuard(extra_modules=OWN_MODULES)
    audit = Audit(writable, lambda what: emit({"kind": "tamper", "what": [what]}), block_network,
                  tests_file=tests_file)
    audit.install()
    exit_now = os._exit
    _fresh_std_streams()
    try:
        pytest.main(pytest_args(work), plugins=[Reporter(emit, guard, audit, tests_source)])
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
