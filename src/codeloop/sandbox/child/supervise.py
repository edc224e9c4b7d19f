"""One run's three processes: supervisor, namespace init, test process.

The supervisor is forked per request by the zygote and never runs test code. It enters
a new PID namespace, so the init process it forks is that namespace's init: when init
ends, the kernel kills every process the tests left behind. Init sets up the other
namespaces and the private root, then forks the test process, which takes the run's
limits and uid and runs pytest (or, for checks judged outside, the probe). The
supervisor enforces the wall-clock limit (killing init, and with it the namespace) and
writes how things ended to a status pipe that the test process closes before any
untrusted code runs. That pipe is what the parent trusts
for "exited cleanly" and "timed out"; the test process's own records are only believed
together with it.

The zygote, the supervisor and init are not dumpable: where the test process shares
their uid (the `none` strategy of an unprivileged deployment), it can neither read
their memory (the nonce) nor reopen their ends of the pipes through /proc/PID/fd.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import signal
import time
from typing import Any, NoReturn

from . import cgroup, confine, linux, probe, runner
from .emit import Emitter

RECORDS_FD = 3
STATUS_FD = 4


def _write(fd: int, record: dict[str, Any]) -> None:
    os.write(fd, (json.dumps(record) + "\n").encode())


def _strategy(isolate: bool, wanted: str) -> tuple[str, bool]:
    """Pick the isolation strategy and enter a new PID namespace when it allows one.

    `wanted` is "auto" (the best this host allows) or a strategy forced for testing
    and debugging ("userns", "none").
    """
    if not isolate:
        return "off", False
    if not linux.available() or wanted == "none":
        return "none", False
    if os.geteuid() == 0 and wanted == "auto":
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
    """Enter a new user and PID namespace, mapping only our own uid and gid (to 0).

    A non-dumpable process's /proc files belong to root, so the supervisor is dumpable
    just for the moment it writes its own maps.
    """
    uid, gid = os.geteuid(), os.getegid()
    linux.unshare(linux.CLONE_NEWUSER | linux.CLONE_NEWPID)
    linux.prctl(linux.PR_SET_DUMPABLE, 1)
    try:
        for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"),
                           ("gid_map", f"0 {gid} 1")):
            with open(f"/proc/self/{name}", "w") as handle:
                handle.write(text)
    finally:
        linux.prctl(linux.PR_SET_DUMPABLE, 0)


def run(request: dict[str, Any], fds: list[int]) -> NoReturn:
    """Supervise one run; `fds` are the write ends of stdout, stderr, records and status."""
    stdout, stderr, records, status = fds
    _write(status, {"kind": "supervisor", "pid": os.getpid()})
    outer_uid = os.getuid()
    strategy, in_pid_ns = _strategy(bool(request["isolate"]), str(request["strategy"]))
    # Only root can be sure to leave and remove the cgroup again (not from a user namespace).
    group = _memory_cgroup(request) if strategy in ("root", "none") and outer_uid == 0 else None
    request = {**request, "outer_uid": outer_uid, "cgroup": group is not None}
    uid = confine.UID_BASE + os.getpid()
    pid = os.fork()
    if pid == 0:
        _init_process(request, strategy, uid, in_pid_ns, fds)
    for fd in (stdout, stderr, records):
        os.close(fd)
    timed_out, wait_status, usage = _wait(pid, float(request["limits"]["wall_seconds"]))
    if strategy == "none" and os.getuid() == 0 and hasattr(os, "setresuid"):  # ran as `uid`?
        _sweep(uid)
    oom_kills = _release(group)
    _write(status, {
        "kind": "exit", "timed_out": timed_out,
        "code": os.waitstatus_to_exitcode(wait_status),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3),
        "max_rss_kib": usage.ru_maxrss, "oom_kills": oom_kills,
    })
    os._exit(0)


def _memory_cgroup(request: dict[str, Any]) -> str | None:
    """Put this supervisor (and so everything it forks) in a memory cgroup of its own."""
    limits = request["limits"]
    group = cgroup.create(f"codeloop-{os.getpid()}", limits["memory_bytes"] + limits["disk_bytes"])
    if group is not None:
        try:
            cgroup.join(group)
        except OSError:
            cgroup.remove(group)
            return None
    return group


def _release(group: str | None) -> int:
    """Leave and remove the run's cgroup, killing any straggler; returns its OOM kills."""
    if group is None:
        return 0
    kills = cgroup.oom_kills(group)
    root = cgroup.memory_root()
    if root is not None:
        with contextlib.suppress(OSError):
            cgroup.join(root)
    cgroup.remove(group)
    return kills


def _init_process(
    request: dict[str, Any], strategy: str, uid: int, in_pid_ns: bool, fds: list[int]
) -> NoReturn:
    """Set up the namespaces, fork the test process, reap until it ends; never returns.

    In a PID namespace this process is init: the kernel ignores signals whose default
    action would end it, and its exit kills everything left in the namespace. So it
    runs no untrusted code itself; the tests run in its child, where signals such as
    SIGXCPU behave as usual, and its exit status is reported on the status pipe.
    """
    try:
        _arrange_fds(fds)
        os.setsid()
        if linux.available():
            linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
        confinement = confine.enter(request, strategy, uid, in_pid_ns)
        pid = os.fork()
    except BaseException as exc:
        _write(STATUS_FD, {"kind": "setup_error", "message": f"{type(exc).__name__}: {exc}"})
        os._exit(70)
    if pid == 0:
        _test_process(request, confinement, uid)
    if linux.available():  # the test process may share our uid: it must not ptrace us
        linux.prctl(linux.PR_SET_DUMPABLE, 0)
    os.closerange(0, STATUS_FD)
    while True:  # reap orphans too, until the test process itself has ended
        try:
            ended, wait_status = os.wait()
        except ChildProcessError:
            os._exit(0)
        if ended == pid:
            _write(STATUS_FD, {"kind": "tests_exit",
                               "code": os.waitstatus_to_exitcode(wait_status)})
            os._exit(0)


def _test_process(request: dict[str, Any], confinement: confine.Confinement, uid: int) -> NoReturn:
    """Drop to the run's limits and uid, close the status pipe, run the tests; never returns."""
    try:
        confine.restrict(confinement, request["limits"], uid)
        _write(STATUS_FD, {"kind": "isolation", "description": confinement.describe(),
                           "work": confinement.work})
    except BaseException as exc:
        _write(STATUS_FD, {"kind": "setup_error", "message": f"{type(exc).__name__}: {exc}"})
        os._exit(70)
    os.close(STATUS_FD)
    writable = (confinement.work, confinement.tmp, "/dev")
    emit = Emitter(RECORDS_FD, str(request["nonce"]), int(request["record_bytes"]))
    run = probe.run if request.get("probe") else runner.run  # calls judged outside, or pytest
    run(confinement.work, emit, writable, block_network=not confinement.own_network)


def _sweep(uid: int) -> None:
    """Kill every process left with the run's uid (where no PID namespace does it for us).

    kill(-1) from a process of that uid reaches exactly the processes of that uid, even
    those that left the process group with setsid().
    """
    helper = os.fork()
    if helper == 0:
        try:
            os.setresuid(uid, uid, uid)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(helper, 0)


def _arrange_fds(fds: list[int]) -> None:
    """Stdin /dev/null, stdout, stderr, records on 3, status on 4; every other fd closed."""
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
        with contextlib.suppress(OSError):
            kill(pid, signal.SIGKILL)
    _, wait_status, usage = os.wait4(pid, 0)
    return timed_out, wait_status, usage


def _wait_exit(pid: int, deadline: float) -> bool:
    """Wait until `pid` has exited, leaving it unreaped (so its pid cannot be reused yet).

    Returns False if the deadline came first.
    """
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
