"""Build the private root filesystem a sandboxed run sees, inside its own mount namespace.

The new root is an empty tmpfs holding read-only bind mounts of the system and Python
directories, a private size-limited, non-executable tmpfs at /tmp (the only writable
place, holding the work directory), a handful of device nodes and a fresh /proc. After
pivot_root and a lazy unmount of the old root, nothing else of the host is reachable:
not $HOME, not the project, not other runs' files, not the host's /tmp.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys

from . import linux

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
DEVICES = ("null", "zero", "full", "random", "urandom")
INPUT_FILES = ("solution.py", "test_solution.py", "checks.json")

# statvfs flag -> mount flag that a read-only remount must keep (locked in user namespaces).
_KEEP_FLAGS = {4: linux.MS_NODEV, 8: linux.MS_NOEXEC, 1024: 0x400, 2048: 0x800, 4096: 1 << 21}


def python_dirs() -> list[str]:
    """Directories the interpreter and its installed packages live in (read-only in the sandbox).

    Only the prefixes: a path on sys.path outside them (an editable checkout, the
    user's project) is deliberately left out.
    """
    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    dirs.add(os.path.dirname(os.path.dirname(os.path.realpath(sys.executable))))
    return sorted({os.path.realpath(d) for d in dirs if os.path.isdir(d)})


def readable_by_all(paths: list[str]) -> bool:
    """Tell whether a process of any uid could read `paths` (every ancestor searchable)."""
    for path in paths:
        mode = os.stat(path).st_mode
        if not (mode & stat.S_IROTH and mode & stat.S_IXOTH):
            return False
        parent = os.path.dirname(path)
        while parent != "/":
            if not os.stat(parent).st_mode & stat.S_IXOTH:
                return False
            parent = os.path.dirname(parent)
    return True


def _outermost(paths: list[str]) -> list[str]:
    """Drop paths that lie inside another one in the list (their parent's bind covers them)."""
    kept: list[str] = []
    for path in sorted(set(paths)):
        if not any(path == k or path.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(path)
    return kept


def _bind_readonly(source: str, target: str) -> None:
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    linux.mount(source, target, None, linux.MS_BIND)
    flags = linux.MS_BIND | linux.MS_REMOUNT | linux.MS_RDONLY | linux.MS_NOSUID
    vfs_flags = os.statvfs(source).f_flag
    for vfs_bit, mount_bit in _KEEP_FLAGS.items():
        flags |= mount_bit if vfs_flags & vfs_bit else 0
    linux.mount(None, target, None, flags)


def _mirror(path: str, new_root: str) -> None:
    """Make `path` appear in the new root: a symlink stays a symlink, a directory is bound."""
    target = new_root + path
    if os.path.islink(path):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.symlink(os.readlink(path), target)
    elif os.path.isdir(path):
        _bind_readonly(path, target)


def _devices(new_root: str) -> None:
    for name in DEVICES:
        if os.path.exists(f"/dev/{name}"):
            target = f"{new_root}/dev/{name}"
            os.makedirs(os.path.dirname(target), exist_ok=True)
            open(target, "a").close()
            linux.mount(f"/dev/{name}", target, None, linux.MS_BIND)
    os.symlink("/tmp", f"{new_root}/dev/shm")  # POSIX shared memory and semaphores
    os.symlink("/proc/self/fd", f"{new_root}/dev/fd")


def _work_tmpfs(new_root: str, src: str, work: str, disk_bytes: int, owner: int) -> None:
    """Mount a private /tmp of bounded size and copy the inputs to the work directory in it.

    It is `noexec`: nothing the code writes can be run or loaded as machine code (a C
    extension it compiled would edit the test process's memory unseen by the audit hook).
    """
    tmp = f"{new_root}/tmp"
    os.makedirs(tmp)
    linux.mount("tmpfs", tmp, "tmpfs", linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC,
                f"size={disk_bytes},nr_inodes=16384,mode=1777")
    os.makedirs(new_root + work)
    for name in INPUT_FILES:
        if not os.path.exists(os.path.join(src, name)):
            continue  # a run of calls has no tests file, a test run no checks file
        shutil.copyfile(os.path.join(src, name), os.path.join(new_root + work, name))
        os.chown(os.path.join(new_root + work, name), owner, owner)
    os.chown(new_root + work, owner, owner)


def build(src: str, work: str, disk_bytes: int, owner: int, with_proc: bool) -> None:
    """Switch this process (already in a new mount namespace) to the private root.

    `src` is the host directory with the inputs, and holds an empty `root/` mount point;
    `work` is the work directory's path inside the sandbox; `owner` the uid that may write it.
    """
    linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
    new_root = os.path.join(src, "root")
    linux.mount("tmpfs", new_root, "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, "size=1m,mode=755")
    # /tmp first: Python itself may live under /tmp (a virtualenv in a checkout there),
    # and a tmpfs mounted later would hide its bind mount.
    _work_tmpfs(new_root, src, work, disk_bytes, owner)
    for path in _outermost([*SYSTEM_DIRS, *python_dirs()]):
        _mirror(path, new_root)
    _devices(new_root)
    os.makedirs(f"{new_root}/proc")
    if with_proc:
        linux.mount("proc", f"{new_root}/proc", "proc",
                    linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC)
    os.makedirs(f"{new_root}/.old")
    linux.pivot_root(new_root, f"{new_root}/.old")
    os.chdir("/")
    linux.umount("/.old")
    os.rmdir("/.old")
    flags = linux.MS_REMOUNT | linux.MS_RDONLY | linux.MS_NOSUID | linux.MS_NODEV
    linux.mount(None, "/", None, flags)
