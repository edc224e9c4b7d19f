"""A memory cgroup per run, where the host allows one: a ceiling on the whole process tree.

RLIMIT_AS bounds each process, but a run may have dozens; the cgroup bounds their sum
(tmpfs pages of the private /tmp included), and its member list lets the supervisor
kill every process of the run even where no PID namespace does it. Only the cgroup v1
memory controller is used (creating a v2 child needs the controller delegated to us,
which a process sitting in that cgroup cannot arrange); without it the run goes on
without, and the report says so.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import time

# Kernel memory and page tables of many small processes come on top of their pages.
SLACK_BYTES = 64 << 20


@functools.lru_cache(maxsize=1)
def memory_root() -> str | None:
    """Find the v1 memory cgroup this process is in, as a writable directory (else None)."""
    try:
        with open("/proc/self/cgroup") as handle:
            own = next((line.strip().split(":", 2)[2] for line in handle
                        if line.split(":")[1:2] and "memory" in line.split(":")[1].split(",")),
                       None)
        with open("/proc/self/mountinfo") as handle:
            mounts = [line.split() for line in handle]
    except OSError:
        return None
    for fields in mounts:
        dash = fields.index("-")
        if own is None or fields[dash + 1] != "cgroup" or "memory" not in fields[-1].split(","):
            continue
        mount_root, mount_point = fields[3], fields[4]
        inside = own[len(mount_root):] if own.startswith(mount_root) else own
        path = mount_point + "/" + inside.lstrip("/")
        return path if os.access(path, os.W_OK) else None
    return None


def create(name: str, limit_bytes: int) -> str | None:
    """Make a child memory cgroup limited to `limit_bytes`; None if the host does not allow."""
    root = memory_root()
    if root is None:
        return None
    path = os.path.join(root, name)
    try:
        os.mkdir(path)
        _write(path, "memory.limit_in_bytes", limit_bytes + SLACK_BYTES)
        with contextlib.suppress(OSError):  # only with swap accounting
            _write(path, "memory.memsw.limit_in_bytes", limit_bytes + SLACK_BYTES)
    except OSError:
        with contextlib.suppress(OSError):
            os.rmdir(path)
        return None
    return path


def join(path: str) -> None:
    """Move the calling process into the cgroup (its children follow)."""
    _write(path, "cgroup.procs", 0)


def oom_kills(path: str) -> int:
    """Count the processes of the cgroup the kernel killed for want of memory."""
    try:
        with open(os.path.join(path, "memory.oom_control")) as handle:
            counts = dict(line.split() for line in handle if len(line.split()) == 2)
        return int(counts.get("oom_kill", 0))
    except (OSError, ValueError):
        return 0


def remove(path: str) -> None:
    """Kill whatever is still in the cgroup, then remove it."""
    for _ in range(50):
        try:
            with open(os.path.join(path, "cgroup.procs")) as handle:
                pids = [int(pid) for pid in handle.read().split()]
        except OSError:
            return
        if os.getpid() in pids:
            return  # we could not leave it: leave it be rather than kill ourselves
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        try:
            os.rmdir(path)
            return
        except OSError:
            time.sleep(0.01)


def _write(path: str, name: str, value: int) -> None:
    with open(os.path.join(path, name), "w") as handle:
        handle.write(str(value))
