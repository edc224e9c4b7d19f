"""The parent side of a sandboxed run: stage the files, hand the run over, judge the result.

Thread-safe: every call has its own directory, pipes and nonce; the only shared thing
is the zygote (forkserver.SERVER), whose use is serialised by its lock for the moment
it takes to send one message.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import stat
import tempfile
import time
from pathlib import Path
from typing import Any

import codeloop.sandbox.judge as judge
from codeloop.sandbox.collect import gather
from codeloop.sandbox.forkserver import SERVER, SandboxUnavailable
from codeloop.sandbox.report import Limits, TestReport

SOLUTION_FILE = "solution.py"
TESTS_FILE = "test_solution.py"
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
    size = len(code.encode(errors="replace")) + len(tests.encode(errors="replace"))
    if size > MAX_SOURCE_BYTES:
        return TestReport(status="error", detail=(
            f"not run: the code and tests are {size} bytes, more than the sandbox accepts "
            f"({MAX_SOURCE_BYTES} bytes)"))
    src = Path(tempfile.mkdtemp(prefix="codeloop-sandbox-"))
    try:
        (src / SOLUTION_FILE).write_text(code, encoding="utf-8", errors="surrogateescape")
        (src / TESTS_FILE).write_text(tests, encoding="utf-8", errors="surrogateescape")
        (src / "root").mkdir()
        report = _run_in(src, limits)
    finally:
        _remove(src)
    report.duration = time.monotonic() - started
    return report


def _strategy() -> str:
    """Return the isolation strategy: "auto", or one forced by CODELOOP_SANDBOX_STRATEGY."""
    wanted = os.environ.get(STRATEGY_VARIABLE, "auto").strip().lower() or "auto"
    if wanted not in STRATEGIES:
        raise SandboxUnavailable(
            f"{STRATEGY_VARIABLE}={wanted!r} is not one of: {', '.join(STRATEGIES)}")
    return wanted


def _run_in(src: Path, limits: Limits) -> TestReport:
    nonce = secrets.token_hex(16)
    try:
        request = {"src": str(src), "nonce": nonce, "isolate": limits.isolate,
                   "strategy": _strategy(), "limits": limits.model_dump()}
    except SandboxUnavailable as exc:
        return TestReport(status="error", detail=f"not run: {exc}")
    pipes = {name: os.pipe() for name in ("stdout", "stderr", "records", "status")}
    try:
        SERVER.submit(request, [write for _, write in pipes.values()])
    except SandboxUnavailable as exc:
        for read, _ in pipes.values():
            os.close(read)
        return TestReport(status="error", detail=f"not run: {exc}")
    finally:
        for _, write in pipes.values():
            os.close(write)
    deadline = time.monotonic() + limits.wall_seconds + BACKSTOP_SECONDS
    gathered = gather({name: read for name, (read, _) in pipes.items()},
                      limits.output_bytes, deadline)
    status = gathered.lines(gathered.status)
    if not gathered.complete:
        _kill_supervisor(status)
    records = judge.signed(gathered, nonce)
    state, detail, tests = judge.assess(records, status, limits)
    isolation = (judge.first(status, "isolation") or {}).get("description", "")
    cpu = (judge.first(status, "exit") or {}).get("cpu_seconds", 0.0)
    return TestReport(
        status=state, tests=tests, detail=judge.clean(detail),
        stdout=gathered.stdout.text(), stderr=gathered.stderr.text(),
        isolation=str(isolation), cpu_seconds=float(cpu),
    )


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
