"""Detect code under test that rewrites the test runner it runs inside.

pytest runs the tests in the same process as the code they import, so that code could
rewrite pytest (make `Function.runtest` a no-op, register a plugin that turns failures
into passes, swap `builtins.AssertionError` for a skip, give `call_and_report` a new
`__code__`). Right before the test module is imported, a snapshot is taken of
everything in pytest's, pluggy's and the runner's namespaces (and of the classes defined
there): each name's object, and for every function its code object, defaults and keyword
defaults; of the builtins that decide outcomes; of the registered plugins and hook
functions; and of those modules' entries in `sys.modules`. It is compared after each
test (the names that decide outcomes, and the trace and profile hooks, which must stay
unset) and at the end (every name, and the code of the functions that decide outcomes);
any difference makes the run an error.

Reading a function's `__code__` is an audit event, so comparing thousands of them costs
milliseconds: their code is recorded once in the zygote (`remember_code`, where no audit
hook runs yet), and the audit hook (audit.py) flags every assignment to any watched
function's code, defaults or keyword defaults as it happens. Neither is the
containment (that is the OS's job); they keep the *report* honest against code that
rewrites its runner.
"""

from __future__ import annotations

import builtins
import sys
import threading
from collections.abc import Iterator
from types import FunctionType, ModuleType
from typing import Any

WATCHED_PREFIXES = ("_pytest", "pytest", "pluggy")
# Globals pytest itself rebinds around every test (assertion rewriting's hooks).
PYTEST_REBINDS = frozenset({
    "_pytest.assertion.util._reprcompare", "_pytest.assertion.util._config",
    "_pytest.assertion.util._assertion_pass",
})

# Checked after every test (cheap); everything watched is checked again at the end.
CRITICAL_MODULES = frozenset({
    "builtins", "_pytest.runner", "_pytest.python", "_pytest.reports", "_pytest.main",
    "_pytest.outcomes", "_pytest.skipping", "_pytest.assertion.rewrite",
    "_pytest.assertion.util", "pluggy._callers", "pluggy._execution", "pluggy._hooks",
    "pluggy._caller", "pluggy._manager", "pluggy._result",
})
CRITICAL_HOOKS = ("pytest_runtest_", "pytest_pyfunc_call", "pytest_report_", "pytest_collect")

# Builtins tests mock, legitimately, often in module fixtures: every other builtin is
# watched (replacing `sorted` or `AssertionError` would change what the tests check).
MOCKABLE_BUILTINS = frozenset({"print", "input", "open", "breakpoint", "help", "exit", "quit",
                               "copyright", "credits", "license"})

CodeState = tuple[Any, Any, Any]
CodeEntries = list[tuple[str, FunctionType, CodeState]]
# id(owner) -> (owner, its functions' code when the zygote recorded it); see remember_code.
_REMEMBERED: dict[int, tuple[Any, CodeEntries]] = {}
_REMEMBERED_IDS: set[int] = set()  # ids of those functions (kept alive by _REMEMBERED)
_WRAPPERS = (staticmethod, classmethod)


def code_state(function: FunctionType) -> CodeState:
    """What a function runs: its code object, defaults and keyword defaults (a copy)."""
    kwdefaults = function.__kwdefaults__
    return function.__code__, function.__defaults__, kwdefaults and dict(kwdefaults)


def same_code(function: FunctionType, then: CodeState) -> bool:
    """Whether the function still runs what it ran when `then` was taken."""
    code, defaults, kwdefaults = then
    now = function.__kwdefaults__
    return (function.__code__ is code and function.__defaults__ is defaults
            and (now is None) == (kwdefaults is None)
            and (now is None or (now.keys() == kwdefaults.keys()
                 and all(now[k] is kwdefaults[k] for k in now))))


def functions_in(namespace: dict[str, Any]) -> Iterator[tuple[str, FunctionType]]:
    """(name, function) for the functions a namespace holds, methods and properties included."""
    for name, value in list(namespace.items()):
        if isinstance(value, _WRAPPERS):
            value = value.__func__
        parts = (value.fget, value.fset, value.fdel) if isinstance(value, property) else (value,)
        for part in parts:
            if isinstance(part, FunctionType):
                yield name, part


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


def remember_code(extra: tuple[str, ...]) -> None:
    """Record the code of every watched function now (in the zygote, before any audit hook)."""
    for owner in _watched(extra).values():
        entries = [(name, function, code_state(function))
                   for name, function in functions_in(vars(owner))]
        _REMEMBERED[id(owner)] = (owner, entries)
        _REMEMBERED_IDS.update(id(function) for _, function, _ in entries)


def _remembered(owner: Any) -> CodeEntries | None:
    """The code of the owner's functions as the zygote recorded it (None if it did not).

    A function bound after that is not followed: the name it is bound to still is.
    """
    owner_then, entries = _REMEMBERED.get(id(owner), (None, []))
    return entries if owner_then is owner else None


def _watched_builtins() -> dict[str, Any]:
    return {name: value for name, value in vars(builtins).items()
            if name not in MOCKABLE_BUILTINS
            and (not name.startswith("_") or name == "__build_class__")}


def hooks_set() -> list[str]:
    """The trace and profile hooks currently set, in this thread or for new threads."""
    found = [name for name, hook in (("sys.settrace", sys.gettrace()),
                                     ("sys.setprofile", sys.getprofile()),
                                     ("threading.settrace", threading.gettrace()),
                                     ("threading.setprofile", threading.getprofile()))
             if hook is not None]
    return [f"a {name} hook is set" for name in found]


class RunnerGuard:
    """Holds the snapshot of the runner's world and reports how it has been changed."""

    def __init__(self, extra_modules: tuple[str, ...]) -> None:
        self._extra = extra_modules
        self._snapshot: dict[str, tuple[Any, dict[str, Any]]] = {}
        self._critical: list[str] = []
        self._code: dict[str, CodeEntries] = {}
        self._fresh: set[int] = set()
        self._modules: dict[str, ModuleType] = {}
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
        self._code, self._fresh = {}, set()
        for key, (owner, then) in self._snapshot.items():
            entries = _remembered(owner)
            if entries is None:  # a module first imported in this process: read it now
                entries = [(name, function, code_state(function))
                           for name, function in functions_in(then)]
                self._fresh.update(id(function) for _, function, _ in entries)
            self._code[key] = entries
        self._modules = {key: owner for key, (owner, _) in self._snapshot.items()
                         if isinstance(owner, ModuleType) and key != "builtins"}
        critical = CRITICAL_MODULES | set(self._extra)
        self._critical = [k for k in self._snapshot if k in critical or k.rsplit(".", 1)[0]
                          in critical]
        self._pm = pluginmanager
        self._hooks = self._hook_functions(full=True)
        self._plugins = {id(p) for p in pluginmanager.get_plugins()}

    def function_ids(self) -> set[int]:
        """The ids of every watched function (for the audit hook to protect)."""
        return _REMEMBERED_IDS | self._fresh

    def _hook_functions(self, full: bool) -> dict[str, tuple[Any, ...]]:
        hooks: dict[str, tuple[Any, ...]] = {}
        for name, caller in vars(self._pm.hook).items():
            if (full or name.startswith(CRITICAL_HOOKS)) and hasattr(caller, "get_hookimpls"):
                hooks[name] = tuple(impl.function for impl in caller.get_hookimpls())
        return hooks

    def changes(self, full: bool = True) -> list[str]:
        """List what differs from the snapshot (empty when nothing was tampered with).

        `full=False` checks only the names that decide outcomes (after each test);
        `full=True` all names, and the code of the functions that decide outcomes. Modules
        may gain attributes (importing a submodule adds one), classes may not.
        """
        keys = list(self._snapshot) if full else self._critical
        found = list(self._namespace_changes(keys))
        if full:
            found.extend(self._code_changes(self._critical))
        found = [name for name in found if name not in PYTEST_REBINDS]
        found.extend(f"sys.modules[{key!r}] was replaced" for key in keys
                     if key in self._modules and sys.modules.get(key) is not self._modules[key])
        if {id(p) for p in self._pm.get_plugins()} - self._plugins:
            found.append("a pytest plugin was registered")
        hooks = self._hook_functions(full)
        found.extend(f"hook {n}" for n, impls in hooks.items()
                     if len(impls) != len(self._hooks.get(n, ()))
                     or any(a is not b for a, b in zip(impls, self._hooks[n], strict=False)))
        return found + hooks_set()

    def _namespace_changes(self, keys: list[str]) -> Iterator[str]:
        for key in keys:
            owner, then = self._snapshot[key]
            now = vars(owner)
            yield from (f"{key}.{n}" for n, v in then.items() if n not in now or now[n] is not v)
            if isinstance(owner, type) and len(now) != len(then):
                yield from (f"{key}.{n}" for n in now.keys() - then.keys())

    def _code_changes(self, keys: list[str]) -> Iterator[str]:
        for key in keys:
            for name, function, then in self._code[key]:
                if not same_code(function, then):
                    yield f"the code of {key}.{name}"
