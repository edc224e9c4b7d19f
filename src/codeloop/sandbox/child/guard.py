"""Detect code under test that tampers with the test runner it runs inside.

pytest runs the tests in the same process as the code they import, so that code could
rewrite pytest (make `Function.runtest` a no-op, register a plugin that turns failures
into passes, swap `builtins.AssertionError` for a skip). A snapshot of everything in
pytest's, pluggy's and the runner's namespaces (and of the classes defined there), of
the builtins that decide outcomes, and of the registered plugins and hook functions is
taken before the test module is imported and compared after each test (the parts that
decide outcomes) and at the end (all of it); any difference makes the run an error.

An audit hook adds defence in depth: it refuses writes outside the work directory, and
network connections where the run has no network namespace of its own, and it flags the
garbage-collector introspection that digging out the runner's internals would need.
None of this is the containment itself (that is the OS's job); it keeps the *report*
honest against code that rewrites its runner. Code that edits memory through ctypes can
defeat any in-process check; it still cannot leave the sandbox.
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


# Checked after every test (cheap); everything watched is checked again at the end.
CRITICAL_MODULES = frozenset({
    "builtins", "_pytest.runner", "_pytest.python", "_pytest.reports", "_pytest.main",
    "_pytest.outcomes", "_pytest.skipping", "_pytest.assertion.rewrite",
    "_pytest.assertion.util", "pluggy._callers", "pluggy._execution", "pluggy._hooks",
    "pluggy._caller", "pluggy._manager", "pluggy._result",
})
CRITICAL_HOOKS = ("pytest_runtest_", "pytest_pyfunc_call", "pytest_report_", "pytest_collect")


def _watched(extra: tuple[str, ...]) -> dict[str, Any]:
    """Name -> object whose namespace is watched: the modules, and the classes defined there."""
    owners: dict[str, Any] = {"builtins": builtins}
    for name in list(sys.modules):
        module = sys.modules[name]
        if not isinstance(module, ModuleType):
            continue
        if name.split(".")[0] not in WATCHED_PREFIXES and name not in extra:
            continue
        owners[name] = module
        for attr, value in list(vars(module).items()):
            if isinstance(value, type) and value.__module__ == name:
                owners[f"{name}.{attr}"] = value
    return owners


# Builtins whose replacement would change how outcomes are decided. print, input, open
# and the like are left out: tests mock them, legitimately, often in module fixtures.
CORE_BUILTINS = ("isinstance", "issubclass", "type", "object", "getattr", "hasattr",
                 "setattr", "super", "repr", "str", "len", "iter", "next", "id", "bool")


def _watched_builtins() -> dict[str, Any]:
    return {name: value for name, value in vars(builtins).items()
            if name in CORE_BUILTINS
            or (isinstance(value, type) and issubclass(value, BaseException))}


class RunnerGuard:
    """Holds the snapshot of the runner's world and reports how it has been changed."""

    def __init__(self, extra_modules: tuple[str, ...]) -> None:
        self._extra = extra_modules
        self._snapshot: dict[str, tuple[Any, dict[str, Any]]] = {}
        self._critical: list[str] = []
        self._hooks: dict[str, tuple[Any, ...]] = {}
        self._plugins: set[int] = set()
        self._pm: Any = None

    def snapshot(self, pluginmanager: Any) -> None:
        """Record what everything is; call right before the untrusted test module is imported.

        The copies hold references, so an identity cannot be recycled by a new object.
        """
        self._snapshot = {key: (owner, dict(vars(owner)))
                          for key, owner in _watched(self._extra).items()}
        self._snapshot["builtins"] = (builtins, _watched_builtins())
        critical = CRITICAL_MODULES | set(self._extra)
        self._critical = [k for k in self._snapshot if k in critical or k.rsplit(".", 1)[0]
                          in critical]
        self._pm = pluginmanager
        self._hooks = self._hook_functions(full=True)
        self._plugins = {id(p) for p in pluginmanager.get_plugins()}

    def _hook_functions(self, full: bool) -> dict[str, tuple[Any, ...]]:
        hooks: dict[str, tuple[Any, ...]] = {}
        for name, caller in vars(self._pm.hook).items():
            if (full or name.startswith(CRITICAL_HOOKS)) and hasattr(caller, "get_hookimpls"):
                hooks[name] = tuple(impl.function for impl in caller.get_hookimpls())
        return hooks

    def changes(self, full: bool = True) -> list[str]:
        """List what differs from the snapshot (empty when nothing was tampered with).

        `full=False` checks only what decides outcomes (after each test); modules may
        gain attributes (importing a submodule adds one), classes may not.
        """
        found: list[str] = []
        for key in self._snapshot if full else self._critical:
            owner, then = self._snapshot[key]
            now = vars(owner)
            found.extend(f"{key}.{n}" for n, v in then.items() if n not in now or now[n] is not v)
            if isinstance(owner, type) and len(now) != len(then):
                found.extend(f"{key}.{n}" for n in now.keys() - then.keys())
        found = [name for name in found if name not in PYTEST_REBINDS]
        if {id(p) for p in self._pm.get_plugins()} - self._plugins:
            found.append("a pytest plugin was registered")
        hooks = self._hook_functions(full)
        found.extend(f"hook {n}" for n, impls in hooks.items()
                     if len(impls) != len(self._hooks.get(n, ()))
                     or any(a is not b for a, b in zip(impls, self._hooks[n], strict=False)))
        return found


def install_audit_hook(
    allowed_dirs: tuple[str, ...], flag: Callable[[str], None], block_network: bool
) -> None:
    """Refuse out-of-sandbox writes (and network, if asked); report introspection to `flag`.

    With a network namespace of its own the run may use its loopback freely, so the
    network check is for hosts without one.
    """
    allowed = tuple(d.rstrip("/") + "/" for d in allowed_dirs)
    inet = (socket.AF_INET, socket.AF_INET6)

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            _check_open(args, allowed)
        elif event in ("socket.connect", "socket.sendto", "socket.sendmsg", "socket.bind"):
            if block_network and getattr(args[0], "family", None) in inet:
                raise PermissionError(f"network access is not allowed in the sandbox ({event})")
        elif event in FLAGGED_EVENTS:
            flag(event)

    sys.addaudithook(hook)


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
