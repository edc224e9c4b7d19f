"""The parent side of a sandboxed run: stage the files, hand the run over, judge the result.

Two kinds of run: pytest tests (`run_sandboxed`), and calls whose values come back as
plain data for the caller to compare (`call_sandboxed`).

The test process reports on a SOCK_SEQPACKET socket, not a pipe: a pipe's write end can
be reopened for reading through /proc/self/fd (which let the code read the nonce off
the runner's own records), a socket's cannot, and the parent shuts its own direction.

Thread-safe: every call has its own directory, pipes, socket and nonce; the only shared thing
is the zygote (forkserver.SERVER), whose use is serialised by its lock for the moment
it takes to send one message.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import stat
import tempfile
import time
from pathlib import Path
from typing import Any

import codeloop.sandbox.judge as judge
from codeloop.sandbox.calls import Call, CallReport
from codeloop.sandbox.collect import Gathered, gather, record_budget
from codeloop.sandbox.forkserver import SERVER, SandboxUnavailable
from codeloop.sandbox.records import signed
from codeloop.sandbox.report import Limits, TestReport

SOLUTION_FILE = "solution.py"
TESTS_FILE = "test_solution.py"
CHECKS_FILE = "checks.json"
MAX_SOURCE_BYTES = 16 << 20
# Forces an isolation strategy, for tests and debugging: "userns" takes the unprivileged
# path even as root, "none" runs without namespaces as on a platform that has none.
STRATEGY_VARIABLE = "CODELOOP_SANDBOX_STRATEGY"
STRATEGIES = ("auto", "userns", "none")
# How long past the wall-clock limit the supervisor may take before it is killed.
BACKSTOP_SECONDS = 10.0


def run_sandboxed(code: str, tests: str, limits: Limits | None = None) -> TestReport:
    """Run `tests` against `code` with pytest in the sandbox and report per test.

    The inputs are staged in a fresh temporary directory that is removed afterwards;
    the tests run confined (see the README's Sandbox section) under `limits`.
    """
    limits = limits or Limits()
    started = time.monotonic()
    outcome = _stage_and_run({SOLUTION_FILE: code, TESTS_FILE: tests}, limits, probe=False)
    if isinstance(outcome, str):
        return TestReport(status="error", detail=outcome, duration=time.monotonic() - started)
    gathered, nonce = outcome
    status = gathered.status.lines()
    state, detail, tests_run = judge.assess(signed(gathered, nonce), status, limits)
    return TestReport(
        status=state, tests=tests_run, detail=judge.clean(detail),
        stdout=gathered.stdout.text(), stderr=gathered.stderr.text(),
        isolation=judge.isolation_of(status), cpu_seconds=judge.cpu_of(status),
        duration=time.monotonic() - started,
    )


def call_sandboxed(code: str, calls: list[Call], limits: Limits | None = None) -> CallReport:
    """Make `calls` into `code` in the sandbox; their values come back as plain data.

    Nothing is compared here or in the sandbox: the caller holds the expected values
    (see codeloop.sandbox.calls.matches).
    """
    limits = limits or Limits()
    listing = json.dumps([call.model_dump() for call in calls])
    outcome = _stage_and_run({SOLUTION_FILE: code, CHECKS_FILE: listing}, limits, probe=True)
    if isinstance(outcome, str):
        return CallReport(status="error", detail=outcome)
    gathered, nonce = outcome
    status = gathered.status.lines()
    state, detail, results = judge.assess_calls(signed(gathered, nonce), status, limits)
    return CallReport(status=state, results=results, detail=judge.clean(detail),
                      isolation=judge.isolation_of(status))


def _stage_and_run(
    files: dict[str, str], limits: Limits, probe: bool
) -> tuple[Gathered, str] | str:
    """Stage `files` in a fresh directory, run them in the sandbox, remove the directory.

    Returns what the run sent back and its nonce, or why it could not run.
    """
    size = sum(len(text.encode(errors="replace")) for text in files.values())
    if size > MAX_SOURCE_BYTES:
        return (f"not run: the code and tests are {size} bytes, more than the sandbox accepts "
                f"({MAX_SOURCE_BYTES} bytes)")
    src = Path(tempfile.mkdtemp(prefix="codeloop-sandbox-"))
    try:
        for name, text in files.items():
            (src / name).write_text(text, encoding="utf-8", errors="surrogateescape")
        (src / "root").mkdir()
        return _run_in(src, limits, probe)
    finally:
        _remove(src)


def _strategy() -> str:
    """Return the isolation strategy: "auto", or one forced by CODELOOP_SANDBOX_STRATEGY."""
    wanted = os.environ.get(STRATEGY_VARIABLE, "auto").strip().lower() or "auto"
    if wanted not in STRATEGIES:
        raise SandboxUnavailable(
            f"{STRATEGY_VARIABLE}={wanted!r} is not one of: {', '.join(STRATEGIES)}")
    return wanted


def _run_in(src: Path, limits: Limits, probe: bool) -> tuple[Gathered, str] | str:
    nonce = secrets.token_hex(16)
    try:
        request = {"src": str(src), "nonce": nonce, "isolate": limits.isolate, "probe": probe,
                   "strategy": _strategy(), "limits": limits.model_dump(),
                   "record_bytes": record_budget(limits.output_bytes)}
    except SandboxUnavailable as exc:
        return f"not run: {exc}"
    ends = _channels()
    try:
        SERVER.submit(request, [write for _, write in ends.values()])
    except SandboxUnavailable as exc:
        for read, _ in ends.values():
            os.close(read)
        return f"not run: {exc}"
    finally:
        for _, write in ends.values():
            os.close(write)
    deadline = time.monotonic() + limits.wall_seconds + BACKSTOP_SECONDS
    gathered = gather({name: read for name, (read, _) in ends.items()},
                      limits.output_bytes, deadline)
    if not gathered.complete:
        _kill_supervisor(gathered.status.lines())
    return gathered, nonce


def _channels() -> dict[str, tuple[int, int]]:
    """(read end, write end) of stdout, stderr, records and status, in the order the zygote takes.

    The records channel is a socket pair with each direction shut that its side does
    not use: the sandbox can neither read its own records back nor be sent anything.
    """
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ours.shutdown(socket.SHUT_WR)
    theirs.shutdown(socket.SHUT_RD)
    ends = {name: os.pipe() for name in ("stdout", "stderr")}
    ends["records"] = (ours.detach(), theirs.detach())
    ends["status"] = os.pipe()
    return ends


def _kill_supervisor(status: list[dict[str, Any]]) -> None:
    """Kill a supervisor that overran its own deadline (its test process dies with it)."""
    pid = next((s.get("pid") for s in status if s.get("kind") == "supervisor"), None)
    if isinstance(pid, int) and pid > 1:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def _remove(path: Path) -> None:
    """Remove the staging directory even if the code left read-only or unreadable entries."""

    def make_writable(func: Any, target: str, _: Any) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(target), stat.S_IRWXU)
            os.chmod(target, stat.S_IRWXU)
        with contextlib.suppress(OSError):
            func(target)

    shutil.rmtree(path, onerror=make_writable)
