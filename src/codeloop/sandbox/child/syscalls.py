"""A seccomp filter for the test process: the system calls that would undo the containment fail.

Namespaces, another uid and dropped capabilities contain the test process, but a few
system calls reach past them: a nested user namespace hands back a full set of
capabilities inside it; kernel keyrings outlive the run (and each run has a uid of its
own, so each would leave one); ptrace and its relatives read or write other processes'
memory; netlink talks to the kernel's network configuration. Tests never need them, so
the filter makes them fail with EPERM (clone3 with ENOSYS: its flags are in memory a
filter cannot read, and the C library then falls back to clone, whose flags it can).
Everything else is allowed; foreign architectures' system calls kill the process
(libseccomp's default).

The filter is built with libseccomp (through `pyseccomp`) once, in the zygote, and
loaded in each test process after it dropped its privileges: `no_new_privs` is set by
then, so an unprivileged process may load it, and it holds for everything the tests
start. Where libseccomp is missing the run goes on without, and the report says so.
"""

from __future__ import annotations

import errno
from typing import Any

# Namespace flags of clone(2) and unshare(2).
NAMESPACE_FLAGS = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000,
                   0x40000000)  # mount, cgroup, uts, ipc, user, pid, net
AF_NETLINK = 16
DENIED = (
    "unshare", "setns",                                    # new namespaces
    "keyctl", "add_key", "request_key",                    # kernel keyrings
    "ptrace", "process_vm_readv", "process_vm_writev",     # other processes' memory
    "pidfd_getfd", "kcmp",
    "mount", "umount2", "pivot_root", "chroot", "open_tree", "move_mount", "fsopen",
    "fsmount", "fspick", "mount_setattr",                  # the filesystem layout
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter",
    "io_uring_register",                                   # kernel interfaces tests never use
)
# The calls the filter must hold to count as in force; the rest are extra.
REQUIRED = ("unshare", "setns", "keyctl", "add_key", "request_key", "ptrace", "clone",
            "clone3", "socket")

_filter: Any = None
_missing = ""


def prepare() -> None:
    """Build the filter (in the zygote, once); remembers why not if it cannot be built."""
    global _filter, _missing
    try:
        import pyseccomp
    except (ImportError, OSError, RuntimeError) as exc:  # RuntimeError: no libseccomp
        _missing = f"no libseccomp: {exc}"
        return
    try:
        _filter = _build(pyseccomp)
    except (OSError, ValueError) as exc:
        _missing = f"libseccomp refused the filter: {exc}"


def _build(seccomp: Any) -> Any:
    deny = seccomp.ERRNO(errno.EPERM)
    built = seccomp.SyscallFilter(seccomp.ALLOW)
    for name in DENIED:
        try:
            built.add_rule(deny, name)
        except (OSError, ValueError):
            if name in REQUIRED:  # an old libseccomp may not know the newest calls
                raise
    for flag in NAMESPACE_FLAGS:
        built.add_rule(deny, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    built.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    built.add_rule(deny, "socket", seccomp.Arg(0, seccomp.EQ, AF_NETLINK))
    return built


def load() -> str:
    """Load the filter into this process; returns how the report should describe it."""
    if _filter is None:
        return f"NO SYSCALL FILTER ({_missing or 'not prepared'})"
    try:
        _filter.load()
    except OSError as exc:
        return f"NO SYSCALL FILTER (loading it failed: {exc})"
    return "syscall filter"
