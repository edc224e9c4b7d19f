"""Thin ctypes wrappers for the Linux calls Python 3.11 lacks: unshare, mount, pivot_root, capset.

Every wrapper raises OSError with the C errno, so callers can degrade (and say so) when the
platform or the privileges do not allow a step.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import platform
import socket
import struct
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MNT_DETACH = 0x2

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38

# Syscalls glibc does not wrap, by machine: (pivot_root, capset).
_SYSCALLS = {"x86_64": (155, 126), "aarch64": (41, 91)}

_libc: ctypes.CDLL | None = None


def available() -> bool:
    """Tell whether these wrappers can work here (Linux with a known syscall table)."""
    return sys.platform.startswith("linux") and platform.machine() in _SYSCALLS


def _c() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def unshare(flags: int) -> None:
    """Move this process into new namespaces (man 2 unshare)."""
    _check(_c().unshare(ctypes.c_int(flags)), "unshare")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    """Mount a filesystem (man 2 mount); a `source` or `fstype` of None means "none"."""
    enc = os.fsencode
    _check(
        _c().mount(
            enc(source) if source else None,
            enc(target),
            enc(fstype) if fstype else None,
            ctypes.c_ulong(flags),
            enc(data) if data else None,
        ),
        f"mount {target}",
    )


def umount(target: str) -> None:
    """Detach a mount lazily (man 2 umount2)."""
    _check(_c().umount2(os.fsencode(target), ctypes.c_int(MNT_DETACH)), f"umount {target}")


def pivot_root(new_root: str, put_old: str) -> None:
    """Make `new_root` the root, moving the old one to `put_old` (man 2 pivot_root)."""
    number = _SYSCALLS[platform.machine()][0]
    _check(_c().syscall(number, os.fsencode(new_root), os.fsencode(put_old)), "pivot_root")


def drop_capabilities() -> None:
    """Clear the effective, permitted and inheritable capability sets of this thread."""

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [(name, ctypes.c_uint32) for name in ("effective", "permitted", "inheritable")]

    header = Header(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3: two Data words
    data = (Data * 2)()
    number = _SYSCALLS[platform.machine()][1]
    _check(_c().syscall(number, ctypes.byref(header), ctypes.byref(data)), "capset")


def prctl(option: int, value: int) -> None:
    """Set a process attribute that takes one argument (man 2 prctl)."""
    _check(_c().prctl(option, ctypes.c_ulong(value), 0, 0, 0), f"prctl {option}")


def loopback_up() -> None:
    """Bring up `lo` in this (new) network namespace: the code's own local servers work."""
    get_flags, set_flags, up = 0x8913, 0x8914, 0x1  # SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP
    layout = "16sH14s"  # struct ifreq: name, flags, padding
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack(layout, b"lo", 0, b"")
        flags = struct.unpack(layout, fcntl.ioctl(sock, get_flags, request))[1]
        fcntl.ioctl(sock, set_flags, struct.pack(layout, b"lo", flags | up, b""))
