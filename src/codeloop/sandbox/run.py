"""The parent side of a sandboxed run: start the runner, enforce the clock, read its report."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

from codeloop.sandbox.report import Limits, TestReport, TestResult

RUNNER = Path(__file__).with_name("runner.py")
SOLUTION_FILE = "solution.py"
TESTS_FILE = "test_solution.py"


def run_sandboxed(code: str, tests: str, limits: Limits | None = None) -> TestReport:
    """Run `tests` against `code` with pytest in a separate process and report per test.

    The code and tests are written to a fresh temporary directory that is removed
    afterwards; the process group is killed at the wall-clock limit.
    """
    limits = limits or Limits()
    workdir = Path(tempfile.mkdtemp(prefix="codeloop-sandbox-"))
    try:
        (workdir / SOLUTION_FILE).write_text(code, encoding="utf-8")
        (workdir / TESTS_FILE).write_text(tests, encoding="utf-8")
        return _run_in(workdir, limits)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _run_in(workdir: Path, limits: Limits) -> TestReport:
    nonce = secrets.token_hex(16)
    read_fd, write_fd = os.pipe()
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-I", str(RUNNER), str(workdir), str(write_fd)],
        cwd=workdir,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        pass_fds=(write_fd,),
        start_new_session=True,
        env=_child_env(),
    )
    os.close(write_fd)
    assert proc.stdin is not None
    proc.stdin.write(f"{nonce}\n".encode())
    proc.stdin.close()
    readers = [_CappedReader(s, limits.output_bytes) for s in (proc.stdout, proc.stderr)]
    records = _RecordReader(read_fd, nonce)
    timed_out = _wait(proc, limits.wall_seconds)
    for reader in (*readers, records):
        reader.join()
    return _build_report(
        records.records, timed_out, proc.returncode, readers, time.monotonic() - started, limits
    )


def _child_env() -> dict[str, str]:
    """A minimal environment: no credentials or tokens of the user reach generated code."""
    keep = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    keep.update(PYTHONDONTWRITEBYTECODE="1", PYTHONHASHSEED="0", PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    return keep


def _wait(proc: subprocess.Popen[bytes], seconds: float) -> bool:
    """Wait for the runner; on timeout kill its whole process group. True if it timed out."""
    try:
        proc.wait(timeout=seconds)
        timed_out = False
    except subprocess.TimeoutExpired:
        timed_out = True
    _kill_group(proc.pid)
    proc.wait()
    return timed_out


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class _CappedReader(threading.Thread):
    """Drains a pipe so the child never blocks, keeping only the first `cap` bytes."""

    def __init__(self, stream: IO[bytes] | None, cap: int) -> None:
        super().__init__(daemon=True)
        self.stream, self.cap = stream, cap
        self.data, self.dropped = bytearray(), 0
        self.start()

    def run(self) -> None:
        assert self.stream is not None
        while chunk := self.stream.read1(65536):  # type: ignore[attr-defined]
            room = self.cap - len(self.data)
            self.data += chunk[:room] if room > 0 else b""
            self.dropped += max(0, len(chunk) - max(room, 0))
        self.stream.close()

    def text(self) -> str:
        text = self.data.decode("utf-8", errors="replace")
        return text + (f"\n[... {self.dropped} more bytes truncated]" if self.dropped else "")


class _RecordReader(threading.Thread):
    """Reads the runner's JSON records, keeping only those signed with this run's nonce."""

    MAX_BYTES = 8 << 20

    def __init__(self, fd: int, nonce: str) -> None:
        super().__init__(daemon=True)
        self.fd, self.nonce = fd, nonce
        self.records: list[dict[str, Any]] = []
        self.start()

    def run(self) -> None:
        with os.fdopen(self.fd, "rb") as pipe:
            consumed = 0
            for line in pipe:
                consumed += len(line)
                if consumed > self.MAX_BYTES:
                    break
                record = _parse_record(line)
                if record is not None and record.pop("nonce", None) == self.nonce:
                    self.records.append(record)


def _parse_record(line: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def _build_report(
    records: list[dict[str, Any]],
    timed_out: bool,
    returncode: int | None,
    readers: list[_CappedReader],
    duration: float,
    limits: Limits,
) -> TestReport:
    tests = [
        TestResult(name=str(r["name"]), outcome=r["outcome"], message=str(r.get("message", "")))
        for r in records
        if r.get("kind") == "test"
    ]
    collect_errors = [r for r in records if r.get("kind") == "collect_error"]
    finished = any(r.get("kind") == "finished" for r in records)
    status, detail = _judge(tests, collect_errors, finished, timed_out, returncode, limits)
    return TestReport(
        status=status,
        tests=tests,
        detail=detail,
        stdout=readers[0].text(),
        stderr=readers[1].text(),
        duration=duration,
        isolation="process group, temporary directory, scrubbed environment",
    )


def _judge(
    tests: list[TestResult],
    collect_errors: list[dict[str, Any]],
    finished: bool,
    timed_out: bool,
    returncode: int | None,
    limits: Limits,
) -> tuple[Any, str]:
    """Decide the run's status; anything short of a clean, complete report is not a pass."""
    if timed_out:
        return "timeout", f"timeout: the tests ran longer than {limits.wall_seconds:g} s"
    if collect_errors:
        first = collect_errors[0]
        return "error", f"collecting the tests failed:\n{first.get('message', '')}"
    if not finished:
        return "error", f"the test process ended early (exit code {returncode}) without a report"
    if not tests:
        return "error", "no tests were collected: write test functions named test_*"
    if any(t.outcome in ("failed", "error") for t in tests):
        return "failed", ""
    if not any(t.outcome == "passed" for t in tests):
        return "failed", "every test was skipped: nothing was checked"
    return "passed", ""
