"""The tested process's audit hook: refuse escapes Python can see, flag what rewrites the runner.

Installed before any untrusted code runs, and impossible to remove. It

- refuses writes outside the work directory, and network connections where the run has
  no network namespace of its own (defence in depth: the OS confines the run anyway);
- flags, as tampering, what the runner's honesty cannot survive: trace and profile
  hooks (`sys.settrace`/`setprofile`, which can empty a test once its module has
  loaded), replacing the code, defaults or keyword defaults of a protected function
  (pytest's and the runner's own, and the collected tests), memory access through
  ctypes, the garbage collector's object walks, and new audit hooks;
- records the code object pytest compiled from the test file, the first time it is
  executed: it is executed before the test file imports the solution, so it is the
  file's own code, and every collected test must come from it (collected.py).

Each flag is sent once per kind of event. The hook is in the process it guards, so code
written to defeat it can still forge results by other means (see the README); what it
flags can no longer be done unnoticed.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable
from types import CodeType
from typing import Any

# Events that mean the code is digging into, or rewriting, the process that judges it.
FLAGGED_EVENTS = {
    "gc.get_objects": "the garbage collector's object list (gc.get_objects)",
    "gc.get_referrers": "the garbage collector's referrers (gc.get_referrers)",
    "gc.get_referents": "the garbage collector's referents (gc.get_referents)",
    "sys.addaudithook": "a new audit hook (sys.addaudithook)",
    "sys.settrace": "a trace hook (sys.settrace)",
    "sys.setprofile": "a profile hook (sys.setprofile)",
    "ctypes.call_function": "a foreign function call through ctypes",
    "ctypes.cdata": "raw memory access through ctypes",
    "ctypes.string_at": "raw memory access through ctypes",
    "ctypes.wstring_at": "raw memory access through ctypes",
    "ctypes.dlsym": "a C symbol looked up through ctypes",
    "ctypes.dlopen": "a C library loaded through ctypes",
}
CODE_ATTRIBUTES = ("__code__", "__defaults__", "__kwdefaults__")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_INET = (socket.AF_INET, socket.AF_INET6)
_NETWORK_EVENTS = ("socket.connect", "socket.sendto", "socket.sendmsg", "socket.bind")


class Audit:
    """The hook's state: what it refuses and flags, and the test file's code once it ran."""

    def __init__(
        self, allowed_dirs: tuple[str, ...], flag: Callable[[str], None], block_network: bool,
        tests_file: str | None = None,
    ) -> None:
        self.allowed = tuple(d.rstrip("/") + "/" for d in allowed_dirs)
        self.block_network = block_network
        self.tests_file = tests_file and os.path.realpath(tests_file)
        self.test_code: CodeType | None = None
        self.protected: set[int] = set()
        self._protected_refs: list[Any] = []  # keeps the ids in `protected` from being reused
        self._flag = flag
        self._flagged: set[str] = set()

    def install(self) -> None:
        """Add the hook to this process (for good: audit hooks cannot be removed)."""
        sys.addaudithook(self._hook)

    def protect(self, functions: list[Any]) -> None:
        """Flag any later change of these functions' code or defaults."""
        self._protected_refs.extend(functions)
        self.protected.update(map(id, functions))

    def protect_ids(self, ids: set[int]) -> None:
        """Like `protect`, for functions the caller keeps alive (so their ids stay theirs)."""
        self.protected |= ids

    def flag(self, what: str) -> None:
        """Report tampering, once per kind."""
        if what not in self._flagged:
            self._flagged.add(what)
            self._flag(what)

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if event == "object.__getattr__":  # by far the most frequent: leave at once
            return
        if event == "open":
            _check_open(args, self.allowed)
        elif event in _NETWORK_EVENTS:
            if self.block_network and getattr(args[0], "family", None) in _INET:
                raise PermissionError(f"network access is not allowed in the sandbox ({event})")
        elif event == "object.__setattr__":
            if args[1] in CODE_ATTRIBUTES and id(args[0]) in self.protected:
                self.flag(f"the {args[1]} of {getattr(args[0], '__qualname__', '?')} was replaced")
        elif event == "exec":
            self._note_test_code(args[0])
        elif event in FLAGGED_EVENTS:
            self.flag(FLAGGED_EVENTS[event])

    def _note_test_code(self, code: object) -> None:
        if (self.test_code is None and self.tests_file and isinstance(code, CodeType)
                and code.co_filename.endswith(os.path.basename(self.tests_file))
                and os.path.realpath(code.co_filename) == self.tests_file):
            self.test_code = code


def _check_open(args: tuple[Any, ...], allowed: tuple[str, ...]) -> None:
    path, mode, flags = [*args, None, None, None][:3]
    if not isinstance(path, (str, bytes)):
        return
    writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
        isinstance(flags, int) and flags & _WRITE_FLAGS
    )
    if not writing:
        return
    full = os.path.abspath(os.fsdecode(path))
    if not (full + "/").startswith(allowed):
        raise PermissionError(f"writing outside the sandbox's directory is not allowed: {full}")
