"""Confine the test process: namespaces, private root, resource limits, no privileges.

`enter` runs in the run's init process, `restrict` in the test process, both before any
untrusted code is imported. Each OS layer is tried on its own and whatever could not be
applied is named in the description that ends up in the report, so a run on a platform
without namespaces still works and says so.

Strategies (chosen by the supervisor, see supervise.py):
  root    running as uid 0: namespaces, then drop to a uid of this run's own
  userns  unprivileged: a user namespace grants the namespaces; capabilities are dropped
  uid     root without namespaces (e.g. a container without CAP_SYS_ADMIN): only the
          switch to a uid of the run's own, if the interpreter is readable by everyone
  none    no namespaces available: limits and a process group only
  off     isolation switched off by the caller (benchmarks, debugging)
"""

from __future__ import annotations

import contextlib
import os
import resource
import tempfile
from dataclasses import dataclass, field
from typing import Any

from . import linux, rootfs, syscalls

# Uids handed to sandboxed runs: far above real accounts, one per supervisor pid, so that
# RLIMIT_NPROC counts only this run's processes and no two runs can signal each other.
UID_BASE = 0x60000000
PATH = "/usr/local/bin:/usr/bin:/bin"


def _unshare_each(flags: dict[str, int]) -> list[str]:
    done = []
    for name, flag in flags.items():
        try:
            linux.unshare(flag)
            done.append(name)
        except OSError:
            pass
    return done


def _set_limits(limits: dict[str, Any], strategy: str, outer_uid: int) -> list[str]:
    """Apply rlimits; returns what could not be enforced.

    `outer_uid` is the real uid outside any user namespace: the kernel never enforces
    RLIMIT_NPROC for uid 0, which is why the "root" strategy switches to a uid of its own.
    """
    cpu = int(limits["cpu_seconds"])
    wanted = {
        "RLIMIT_CPU": (cpu, cpu + 1),  # SIGXCPU at the soft limit, SIGKILL a second later
        "RLIMIT_AS": (limits["memory_bytes"],) * 2,
        "RLIMIT_FSIZE": (limits["file_bytes"],) * 2,
        "RLIMIT_NOFILE": (limits["open_files"],) * 2,
        "RLIMIT_CORE": (0, 0),
    }
    processes = _process_cap(limits["processes"], strategy, outer_uid)
    if processes is not None:
        wanted["RLIMIT_NPROC"] = (processes, processes)
    missing = [] if processes is not None else ["RLIMIT_NPROC (cannot count the user's processes)"]
    for name, (soft, hard) in wanted.items():
        try:
            resource.setrlimit(getattr(resource, name), (soft, hard))
        except (AttributeError, ValueError, OSError):
            missing.append(name)
    if outer_uid == 0 and strategy not in ("root", "uid"):
        missing.append("process count (RLIMIT_NPROC is not enforced for root)")
    return missing


def _process_cap(processes: int, strategy: str, outer_uid: int) -> int | None:
    """RLIMIT_NPROC counts all processes of the real uid: add the user's own when we share it.

    In a user namespace of our own the count starts afresh.
    """
    if strategy in ("root", "uid", "userns") or outer_uid == 0:
        return processes
    if not os.path.isdir("/proc"):
        return None
    uid = str(os.getuid())
    mine = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/status") as status:
                uids = [line.split()[1:2] for line in status if line.startswith("Uid:")]
        except OSError:
            continue
        mine += uids == [[uid]]
    return mine + processes


def _drop_privileges(strategy: str, uid: int) -> str:
    if strategy in ("root", "uid"):
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        described = f"uid {uid}"
    elif strategy == "userns":
        linux.drop_capabilities()
        described = "no capabilities"
    elif strategy == "none" and os.geteuid() == 0 and linux.available():  # root, no uid to use
        linux.drop_capabilities()
        described = "uid 0 without capabilities"
    else:
        described = f"uid {os.geteuid()}"
    if linux.available():
        linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)
    return described


def _environment(work: str, tmp: str) -> None:
    """Only harmless variables; the zygote was started with a scrubbed environment already."""
    os.environ.clear()
    os.environ.update(PATH=PATH, HOME=work, TMPDIR=tmp, LANG="C.UTF-8",
                      PYTHONDONTWRITEBYTECODE="1", PYTHONHASHSEED="0",
                      PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    tempfile.tempdir = None


@dataclass
class Confinement:
    """What the init process set up, for the test process to finish and describe."""

    work: str
    tmp: str
    strategy: str
    outer_uid: int
    parts: list[str] = field(default_factory=list)

    @property
    def own_network(self) -> bool:
        """Whether the run has a network namespace of its own (else Python-level guard only)."""
        return "network namespace" in self.parts

    def describe(self) -> str:
        """Describe the isolation in force, in one line for the report."""
        return ", ".join(self.parts)


def enter(request: dict[str, Any], strategy: str, uid: int, in_pid_ns: bool) -> Confinement:
    """Namespaces, private root, environment, work directory (the init process does this)."""
    parts = ["user namespace"] if strategy == "userns" else []
    parts += ["pid namespace"] if in_pid_ns else []
    parts += ["memory cgroup"] if request.get("cgroup") else []
    work = None
    if strategy in ("root", "userns"):
        names = _unshare_each({"network": linux.CLONE_NEWNET, "mount": linux.CLONE_NEWNS,
                               "ipc": linux.CLONE_NEWIPC, "uts": linux.CLONE_NEWUTS})
        parts.extend(f"{name} namespace" for name in names)
        if "network" not in names:
            parts.append("NETWORK NOT ISOLATED")
        else:
            with contextlib.suppress(OSError):  # without it, only local sockets of its own fail
                linux.loopback_up()
        work = _private_root(request, names, strategy, uid, in_pid_ns, parts)
    else:
        parts.append("no namespaces: network, filesystem and processes NOT isolated")
    tmp = "/tmp"
    if work is None:  # the inputs' own directory on the host; temporary files beside them
        work = str(request["src"])
        tmp = os.path.join(work, ".tmp")
        os.makedirs(tmp, exist_ok=True)
        strategy = _host_strategy(strategy, int(request["outer_uid"]), (work, tmp), uid)
    _environment(work, tmp)
    os.chdir(work)
    return Confinement(work, tmp, strategy, int(request["outer_uid"]), parts)


def _host_strategy(strategy: str, outer_uid: int, writable: tuple[str, ...], uid: int) -> str:
    """Without a private root, root may still switch to the run's own uid ("uid").

    Only if everyone can read the interpreter's files (a system Python, not one under
    /root): then the code cannot touch root's files, and the process limit holds.
    """
    if (strategy == "off" or outer_uid != 0 or not hasattr(os, "setresuid")
            or not rootfs.readable_by_all(rootfs.python_dirs())):
        return "none" if strategy == "root" else strategy
    for path in writable:
        os.chown(path, uid, uid)
    return "uid"


def restrict(confinement: Confinement, limits: dict[str, Any], uid: int) -> None:
    """Resource limits, privilege drop and the syscall filter: the last steps before the tests.

    The filter comes last: it needs `no_new_privs`, set with the privilege drop.
    """
    missing = _set_limits(limits, confinement.strategy, confinement.outer_uid)
    confinement.parts.append(
        "rlimits" + (f" (not enforced: {', '.join(missing)})" if missing else ""))
    confinement.parts.append(_drop_privileges(confinement.strategy, uid))
    if confinement.strategy != "off" and linux.available():
        confinement.parts.append(syscalls.load())


def _private_root(
    request: dict[str, Any], names: list[str], strategy: str, uid: int, in_pid_ns: bool,
    parts: list[str],
) -> str | None:
    """Switch to the private root if the mount namespace allows; returns the work directory."""
    src = str(request["src"])
    if "mount" not in names:
        parts.append("FILESYSTEM NOT ISOLATED")
        return None
    work = "/tmp/" + os.path.basename(src.rstrip("/"))
    owner = uid if strategy == "root" else 0
    try:
        rootfs.build(src, work, int(request["limits"]["disk_bytes"]), owner, in_pid_ns)
    except OSError as exc:
        parts.append(f"FILESYSTEM NOT ISOLATED ({exc})")
        return None
    parts.append("private read-only root with a private noexec /tmp")
    return work
