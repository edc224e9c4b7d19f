"""Check that the collected tests are the test file's own, and that the solution shadows none.

Every collected test must run code compiled from the test file: code the audit hook
saw pytest execute for that file before the solution was imported (audit.py). A test
whose code is anything else was swapped in by the code under test: through
`sys.modules`, a trace hook that rewrote the module once it loaded, or a new
`__code__`. Decorators are allowed as long as each layer (followed through
`__wrapped__`) is the test file's own code or `unittest.mock`'s patch wrapper. What each
test runs is snapshotted at collection and compared before and after it runs.

`from solution import *` copies the solution's public names into the test module. A
name that shadows a builtin the tests use (an exception class their asserts raise,
`len`, `sorted`) or a name the test file imports itself (`pytest`) would let the
solution decide what the tests check; such a name is refused unless the test file
imports it from the solution by name.
"""

from __future__ import annotations

import ast
import builtins
import sys
from types import BuiltinFunctionType, CodeType, FunctionType
from typing import Any

from .guard import CodeState, code_state, same_code

MAX_WRAPPERS = 8


def codes_within(code: CodeType) -> set[CodeType]:
    """The code object and every code object nested in it (functions, classes, lambdas)."""
    found, todo = set(), [code]
    while todo:
        current = todo.pop()
        if current not in found:
            found.add(current)
            todo.extend(c for c in current.co_consts if isinstance(c, CodeType))
    return found


def mock_wrapper_codes() -> frozenset[CodeType]:
    """The code of unittest.mock's patch decorators' wrappers (call before untrusted code runs)."""
    import unittest.mock as mock

    patch = mock._patch
    methods = (patch.decorate_callable, patch.decorate_async_callable)
    return frozenset(c for m in methods for c in codes_within(m.__code__))


class CollectedTests:
    """What each collected test runs, and checks that it is still the test file's own."""

    def __init__(self, wrappers: frozenset[CodeType]) -> None:
        self._wrappers = wrappers
        self._file_codes: set[CodeType] = set()
        self._items: dict[str, tuple[Any, Any, list[tuple[FunctionType, CodeState]]]] = {}

    def collect(self, items: list[Any], test_code: CodeType | None) -> list[str]:
        """Snapshot what each item runs; returns the problems found (empty if none)."""
        if not items:
            return []
        if test_code is None:
            return ["the test file's code was never executed by pytest"]
        self._file_codes = codes_within(test_code)
        problems = []
        for item in items:
            chain, problem = self._chain(item)
            if problem:
                problems.append(f"{item.nodeid}: {problem}")
            self._items[item.nodeid] = (item, getattr(item, "obj", None), chain)
        return problems

    def functions(self) -> list[FunctionType]:
        """Every function the collected tests run (for the audit hook to protect)."""
        return [function for _, _, chain in self._items.values() for function, _ in chain]

    def _chain(self, item: Any) -> tuple[list[tuple[FunctionType, CodeState]], str]:
        layer = getattr(getattr(item, "obj", None), "__func__", getattr(item, "obj", None))
        chain: list[tuple[FunctionType, CodeState]] = []
        for _ in range(MAX_WRAPPERS):
            if not isinstance(layer, FunctionType):
                return chain, "the test is not a function"
            chain.append((layer, code_state(layer)))
            inner = layer.__dict__.get("__wrapped__")
            if inner is None:
                if layer.__code__ not in self._file_codes:
                    return chain, "the test's code is not the test file's own"
                return chain, ""
            if layer.__code__ not in self._file_codes | self._wrappers:
                return chain, "the test is wrapped in code that is not the test file's own"
            layer = inner
        return chain, "the test is wrapped too many times"

    def changed(self, nodeid: str | None = None) -> list[str]:
        """Tests whose function or code changed since collection (all, or the one named)."""
        names = [nodeid] if nodeid is not None else list(self._items)
        found = []
        for name in names:
            item, obj, chain = self._items.get(name, (None, None, []))
            if item is None:
                continue
            if (getattr(item, "obj", None) is not obj or "runtest" in vars(item)
                    or not all(same_code(function, then) for function, then in chain)):
                found.append(f"the code of test {name} was replaced")
        return found


def shadowed_names(test_globals: dict[str, Any], test_code: CodeType, source: str) -> list[str]:
    """Names the solution's star import put over a builtin or over the test file's own imports.

    Only names the module's code refers to can shadow an import (`test_code.co_names`);
    the test file's source is parsed only when a suspect is found.
    """
    solution = sys.modules.get("solution")
    if solution is None:
        return []
    ours = vars(solution)
    suspects = sorted(
        name for name, value in test_globals.items()
        if not name.startswith("_") and ours.get(name, ours) is value
        and (getattr(builtins, name, value) is not value or name in test_code.co_names)
        and not _same_named_builtin(name, value))
    if not suspects:
        return []
    by_name, imported = _imports(source)
    problems = []
    for name in suspects:
        if name in by_name:
            continue
        if name in imported and _resolve(*imported[name]) is test_globals[name]:
            continue
        value = test_globals[name]
        if name in imported or getattr(builtins, name, value) is not value:
            problems.append(f"the solution's {name!r} shadows the {name!r} the tests use "
                            "(through `from solution import *`): rename it")
    return problems


def _same_named_builtin(name: str, value: object) -> bool:
    """Whether the value is a C function of that very name (`from math import pow`).

    It is not the solution's own code, and a C function's name cannot be changed.
    """
    return isinstance(value, BuiltinFunctionType) and value.__name__ == name


def _imports(source: str) -> tuple[set[str], dict[str, tuple[str, str | None]]]:
    """Names imported from the solution by name; other imported names -> (module, attribute)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set(), {}
    by_name: set[str] = set()
    imported: dict[str, tuple[str, str | None]] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "solution" and not node.level:
            by_name.update(a.asname or a.name for a in node.names if a.name != "*")
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            imported.update((a.asname or a.name, (node.module, a.name)) for a in node.names)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    imported[a.asname] = (a.name, None)
                else:
                    imported[a.name.split(".")[0]] = (a.name.split(".")[0], None)
    return by_name, imported


def _resolve(module: str, attribute: str | None) -> object:
    """What an import statement of the test file binds, looked up now."""
    found = sys.modules.get(module)
    if attribute is None:
        return found
    return getattr(found, attribute, sys.modules.get(f"{module}.{attribute}"))
