"""The supervisor of one run: forked per request by the zygote, trusted, never runs test code.

It enters a new PID namespace (so the test process it forks is that namespace's init,
and when it ends, the kernel kills every process the tests left behind), enforces the
wall-clock limit, and reports how the test process ended on a status pipe that the
test process closes before any untrusted code runs. That pipe is what the parent
trusts for "exited cleanly" and "timed out"; the records of the test process itself are
only believed together with it.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import signal
import time
from typing import Any, NoReturn

from . import confine, linux, runner

RECORDS_FD = 3
STATUS_FD = 4


def _write(fd: int, record: dict[str, Any]) -> None:
    os.write(fd, (json.dumps(record) + "\n").encode())


def _strategy(isolate: bool) -> tuple[str, bool]:
    """Pick the isolation strategy and enter a new PID namespace when it allows one."""
    if not isolate:
        return "off", False
    if not linux.available():
        return "none", False
    if os.geteuid() == 0:
        try:
            linux.unshare(linux.CLONE_NEWPID)
            return "root", True
        except OSError:
            pass
    try:
        _enter_user_namespace()
        return "userns", True
    except OSError:
        return "none", False


def _enter_user_namespace() -> None:
    uid, gid = os.geteuid(), os.getegid()
    linux.unshare(linux.CLONE_NEWUSER | linux.CLONE_NEWPID)
    for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
        with open(f"/proc/self/{name}", "w") as handle:
            handle.write(text)


def run(request: dict[str, Any], fds: list[int]) -> NoReturn:
    """Supervise one run; `fds` are the write ends of stdout, stderr, records and status."""
    stdout, stderr, records, status = fds
    _write(status, {"kind": "supervisor", "pid": os.getpid()})
    strategy, in_pid_ns = _strategy(bool(request["isolate"]))
    uid = confine.UID_BASE + os.getpid()
    pid = os.fork()
    if pid == 0:
        _test_process(request, strategy, uid, in_pid_ns, fds)
    for fd in (stdout, stderr, records):
        os.close(fd)
    timed_out, wait_status, usage = _wait(pid, float(request["limits"]["wall_seconds"]))
    _write(status, {
        "kind": "exit", "timed_out": timed_out,
        "code": os.waitstatus_to_exitcode(wait_status),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3),
        "max_rss_kib": usage.ru_maxrss,
    })
    os._exit(0)


def _test_process(
    request: dict[str, Any], strategy: str, uid: int, in_pid_ns: bool, fds: list[int]
) -> NoReturn:
    """Confine this process and run the tests in it; never returns."""
    try:
        _arrange_fds(fds)
        os.setsid()
        if linux.available():
            linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
        work, description = confine.enter(request, strategy, uid, in_pid_ns)
        _write(STATUS_FD, {"kind": "isolation", "description": description, "work": work})
    except BaseException as exc:  # noqa: BLE001 - any setup failure is reported, then we stop
        _write(STATUS_FD, {"kind": "setup_error", "message": f"{type(exc).__name__}: {exc}"})
        os._exit(70)
    os.close(STATUS_FD)
    writable = (work, "/tmp") if work.startswith("/tmp/") else (work,)
    runner.run(work, RECORDS_FD, str(request["nonce"]), (*writable, "/dev"))


def _arrange_fds(fds: list[int]) -> None:
    """stdin /dev/null, stdout, stderr, records on 3, status on 4; every other fd closed."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 64) for fd in (devnull, *fds)]
    for target, source in enumerate(high):
        os.dup2(source, target)
    os.closerange(STATUS_FD + 1, 1 << 16)


def _wait(pid: int, seconds: float) -> tuple[bool, int, Any]:
    """Wait for the test process up to `seconds`, then kill it; (timed out, status, rusage)."""
    deadline = time.monotonic() + seconds
    timed_out = not _wait_exit(pid, deadline)
    for kill in (os.kill, os.killpg):  # the group too: leftovers where there is no PID namespace
        try:
            kill(pid, signal.SIGKILL)
        except OSError:
            pass
    _, wait_status, usage = os.wait4(pid, 0)
    return timed_out, wait_status, usage


def _wait_exit(pid: int, deadline: float) -> bool:
    """True once `pid` has exited (left unreaped, so its pid cannot be reused yet)."""
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = -1
    while (left := deadline - time.monotonic()) > 0:
        if pidfd >= 0:
            if select.select([pidfd], [], [], left)[0]:
                return True
        else:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return True
            time.sleep(min(0.005, left))
    return False
