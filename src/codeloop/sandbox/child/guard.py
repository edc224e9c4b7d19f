"""Detect code under test that tampers with the test runner it runs inside.

pytest runs the tests in the same process as the code they import, so that code could
rewrite pytest (make `Function.runtest` a no-op, register a plugin that turns failures
into passes, swap `builtins.AssertionError` for a skip). A snapshot of the identities of
everything in pytest's, pluggy's, the runner's and the builtins' namespaces (and of the
classes defined there) is taken before the test module is imported and compared after
each test and at the end; any difference makes the run an error, never a pass.

An audit hook adds defence in depth: it refuses network connections and writes outside
the work directory even where the OS layer is missing, and it flags the garbage-collector
introspection that digging out the runner's internals would need. None of this is the
containment itself (that is the OS's job); it is what keeps the *report* honest.
"""

from __future__ import annotations

import builtins
import os
import socket
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

WATCHED_PREFIXES = ("_pytest", "pytest", "pluggy")
FLAGGED_EVENTS = ("gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys.addaudithook")
# Globals pytest itself rebinds around every test (assertion rewriting's hooks).
PYTEST_REBINDS = frozenset({
    "_pytest.assertion.util._reprcompare", "_pytest.assertion.util._config",
    "_pytest.assertion.util._assertion_pass",
})
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _watched_modules(extra: tuple[str, ...]) -> list[ModuleType]:
    names = [n for n in list(sys.modules) if n.split(".")[0] in WATCHED_PREFIXES or n in extra]
    return [m for m in (sys.modules[n] for n in names) if isinstance(m, ModuleType)]


def _namespaces(modules: list[ModuleType]) -> dict[str, dict[str, Any]]:
    """The dicts to watch: each module's, and each class's defined in it."""
    spaces: dict[str, dict[str, Any]] = {"builtins": dict(vars(builtins))}
    for module in modules:
        spaces[module.__name__] = dict(vars(module))
        for name, value in vars(module).items():
            if isinstance(value, type) and value.__module__ == module.__name__:
                spaces[f"{module.__name__}.{name}"] = dict(vars(value))
    return spaces


class RunnerGuard:
    """Holds the snapshot of the runner's world and reports how it has been changed."""

    def __init__(self, extra_modules: tuple[str, ...]) -> None:
        self._extra = extra_modules
        self._owners: dict[str, Any] = {}
        self._snapshot: dict[str, dict[str, Any]] = {}
        self._hooks: dict[str, tuple[int, ...]] = {}
        self._plugins: set[int] = set()

    def snapshot(self, pluginmanager: Any) -> None:
        """Record identities; call right before the untrusted test module is imported."""
        modules = _watched_modules(self._extra)
        self._owners = {"builtins": builtins}
        for module in modules:
            self._owners[module.__name__] = module
            for name, value in vars(module).items():
                if isinstance(value, type) and value.__module__ == module.__name__:
                    self._owners[f"{module.__name__}.{name}"] = value
        self._snapshot = _namespaces(modules)  # holds references, so ids cannot be recycled
        self._pm = pluginmanager
        self._hooks = self._hook_ids()
        self._plugins = {id(p) for p in pluginmanager.get_plugins()}

    def _hook_ids(self) -> dict[str, tuple[int, ...]]:
        hooks: dict[str, tuple[int, ...]] = {}
        for name, caller in vars(self._pm.hook).items():
            impls = caller.get_hookimpls() if hasattr(caller, "get_hookimpls") else []
            hooks[name] = tuple(id(impl.function) for impl in impls)
        return hooks

    def changes(self) -> list[str]:
        """What differs from the snapshot (empty when nothing was tampered with)."""
        found = []
        for key, then in self._snapshot.items():
            now = vars(self._owners[key])
            found.extend(f"{key}.{n}" for n, v in then.items() if n not in now or now[n] is not v)
        found = [name for name in found if name not in PYTEST_REBINDS]
        if {id(p) for p in self._pm.get_plugins()} - self._plugins:
            found.append("a pytest plugin was registered")
        hooks = self._hook_ids()
        found.extend(f"hook {n}" for n, ids in self._hooks.items() if hooks.get(n) != ids)
        return found


def install_audit_hook(
    allowed_dirs: tuple[str, ...], flag: Callable[[str], None]
) -> None:
    """Refuse network and out-of-sandbox writes; report runner introspection through `flag`."""
    allowed = tuple(d.rstrip("/") + "/" for d in allowed_dirs)
    inet = (socket.AF_INET, socket.AF_INET6)

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            _check_open(args, allowed)
        elif event in ("socket.connect", "socket.sendto", "socket.sendmsg", "socket.bind"):
            if getattr(args[0], "family", None) in inet:
                raise PermissionError(f"network access is not allowed in the sandbox ({event})")
        elif event in FLAGGED_EVENTS:
            flag(event)

    sys.addaudithook(hook)


def _check_open(args: tuple[Any, ...], allowed: tuple[str, ...]) -> None:
    path, mode, flags = (list(args) + [None, None, None])[:3]
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
