"""The tamper guard, the audit hook and the collected-tests checks, exercised here (no sandbox)."""

from __future__ import annotations

import builtins
import os
import sys
import types

import _pytest.python
import _pytest.runner
import pytest

from codeloop.sandbox.child.audit import Audit, _check_open
from codeloop.sandbox.child.collected import CollectedTests, mock_wrapper_codes, shadowed_names
from codeloop.sandbox.child.guard import RunnerGuard


class FakePluginManager:
    """Just enough of pluggy's PluginManager for the guard."""

    def __init__(self) -> None:
        self.plugins: list[object] = [object()]
        self.hook = type("Hooks", (), {})()

    def get_plugins(self) -> list[object]:
        return list(self.plugins)


@pytest.fixture
def guard() -> tuple[RunnerGuard, FakePluginManager]:
    manager = FakePluginManager()
    watcher = RunnerGuard(extra_modules=())
    watcher.snapshot(manager)
    return watcher, manager


def test_untouched_runner_has_no_changes(guard):
    watcher, _ = guard
    assert watcher.changes(full=True) == []
    assert watcher.changes(full=False) == []


def test_patched_pytest_method_is_found(guard, monkeypatch):
    watcher, _ = guard
    monkeypatch.setattr(_pytest.python.Function, "runtest", lambda self: None)
    assert "_pytest.python.Function.runtest" in watcher.changes(full=False)


def test_attribute_added_to_a_pytest_class_is_found(guard, monkeypatch):
    watcher, _ = guard
    monkeypatch.setattr(_pytest.python.Function, "sneaky", 1, raising=False)
    assert "_pytest.python.Function.sneaky" in watcher.changes(full=True)


def test_replaced_builtin_is_found(guard, monkeypatch):
    watcher, _ = guard
    monkeypatch.setattr(builtins, "AssertionError", pytest.skip.Exception)
    assert "builtins.AssertionError" in watcher.changes(full=False)


def test_registered_plugin_is_found(guard):
    watcher, manager = guard
    manager.plugins.append(object())
    assert "a pytest plugin was registered" in watcher.changes(full=False)


def test_restored_patch_is_no_change(guard, monkeypatch):
    watcher, _ = guard
    with monkeypatch.context() as patch:
        patch.setattr(_pytest.python.Function, "runtest", lambda self: None)
    assert watcher.changes(full=True) == []


@pytest.mark.parametrize(("path", "mode", "flags", "allowed"), [
    ("/work/x.txt", "w", 0, True),
    ("/work/sub/x.txt", "a", 0, True),
    ("/elsewhere/x.txt", "w", 0, False),
    ("/elsewhere/x.txt", "r", os.O_RDONLY, True),
    ("/elsewhere/x.txt", None, os.O_WRONLY | os.O_CREAT, False),
    ("/work/../etc/passwd", "w", 0, False),
    (3, "w", 0, True),
])
def test_audit_open_allows_writes_only_in_the_work_directory(path, mode, flags, allowed):
    if allowed:
        _check_open((path, mode, flags), ("/work/",))
    else:
        with pytest.raises(PermissionError):
            _check_open((path, mode, flags), ("/work/",))


def test_builtins_that_tests_mock_are_not_tampering(guard, monkeypatch):
    watcher, _ = guard
    monkeypatch.setattr(builtins, "input", lambda *args: "5")
    monkeypatch.setattr(builtins, "print", lambda *args, **kwargs: None)
    assert watcher.changes(full=True) == []


def test_code_swapped_into_a_pytest_function_is_found(guard, monkeypatch):
    watcher, _ = guard
    monkeypatch.setattr(_pytest.python.Function.runtest, "__code__", (lambda self: None).__code__)
    assert "the code of _pytest.python.Function.runtest" in watcher.changes(full=True)


def test_changed_defaults_are_found(guard, monkeypatch):
    watcher, _ = guard
    monkeypatch.setattr(_pytest.runner.call_and_report, "__defaults__", (False,))
    assert "the code of _pytest.runner.call_and_report" in watcher.changes(full=True)


def test_a_trace_hook_left_set_is_found(guard):
    watcher, _ = guard
    previous = sys.gettrace()
    sys.settrace(lambda *args: None)
    try:
        found = watcher.changes(full=False)
    finally:
        sys.settrace(previous)
    assert "a sys.settrace hook is set" in found


def test_replacing_a_watched_module_in_sys_modules_is_found(guard, monkeypatch):
    watcher, _ = guard
    monkeypatch.setitem(sys.modules, "_pytest.runner", types.ModuleType("_pytest.runner"))
    assert "sys.modules['_pytest.runner'] was replaced" in watcher.changes(full=False)


def flagged_audit() -> tuple[Audit, list[str]]:
    flags: list[str] = []
    return Audit(("/work",), flags.append, block_network=False,
                 tests_file="/work/test_solution.py"), flags


def test_the_audit_hook_flags_code_swaps_of_protected_functions_only():
    audit, flags = flagged_audit()

    def protected():
        pass

    def other():
        pass

    audit.protect([protected])
    audit._hook("object.__setattr__", (other, "__code__", None))
    audit._hook("object.__setattr__", (protected, "__qualname__", "x"))
    assert flags == []
    audit._hook("object.__setattr__", (protected, "__code__", None))
    audit._hook("object.__setattr__", (protected, "__code__", None))
    assert flags == ["the __code__ of test_the_audit_hook_flags_code_swaps_of_protected_functions_"
                     "only.<locals>.protected was replaced"]


@pytest.mark.parametrize("event", ["sys.settrace", "sys.setprofile", "ctypes.call_function",
                                   "gc.get_referrers", "sys.addaudithook"])
def test_the_audit_hook_flags_what_rewrites_the_runner(event):
    audit, flags = flagged_audit()
    audit._hook(event, ())
    assert len(flags) == 1


def test_the_audit_hook_keeps_the_first_code_of_the_test_file():
    audit, _ = flagged_audit()
    first = compile("x = 1", "/work/test_solution.py", "exec")
    audit._hook("exec", (compile("y = 1", "/work/other.py", "exec"),))
    audit._hook("exec", (first,))
    audit._hook("exec", (compile("z = 1", "/work/test_solution.py", "exec"),))
    assert audit.test_code is first


TEST_FILE = '''
import functools
import pytest
from solution import *

def twice(test):
    @functools.wraps(test)
    def wrapper():
        test()
        test()
    return wrapper

@twice
def test_wrapped():
    pass

class TestGroup:
    def test_method(self):
        pass
'''


class Item:
    """Just enough of a pytest item for CollectedTests."""

    def __init__(self, nodeid: str, obj: object) -> None:
        self.nodeid, self.obj = nodeid, obj


def collected_from(source: str) -> tuple[CollectedTests, dict, types.CodeType]:
    code = compile(source, "/work/test_solution.py", "exec")
    namespace: dict = {}
    sys.modules["solution"] = types.ModuleType("solution")
    try:
        exec(code, namespace)
    finally:
        del sys.modules["solution"]
    return CollectedTests(mock_wrapper_codes()), namespace, code


def test_the_test_files_own_tests_and_decorators_are_accepted():
    tests, namespace, code = collected_from(TEST_FILE)
    items = [Item("t::test_wrapped", namespace["test_wrapped"]),
             Item("t::TestGroup::test_method", namespace["TestGroup"]().test_method)]
    assert tests.collect(items, code) == []
    assert tests.changed() == []


def test_a_test_swapped_for_code_from_elsewhere_is_found():
    tests, namespace, code = collected_from(TEST_FILE)
    assert tests.collect([Item("t::test_fake", lambda: None)], code) == [
        "t::test_fake: the test's code is not the test file's own"]
    fake = lambda: None  # noqa: E731
    fake.__wrapped__ = namespace["test_wrapped"]
    assert tests.collect([Item("t::test_x", fake)], code) == [
        "t::test_x: the test is wrapped in code that is not the test file's own"]


def test_a_test_whose_code_changes_after_collection_is_found():
    tests, namespace, code = collected_from(TEST_FILE)
    method = namespace["TestGroup"].test_method
    tests.collect([Item("t::TestGroup::test_method", method)], code)
    method.__code__ = (lambda self: 1).__code__
    assert tests.changed("t::TestGroup::test_method") == [
        "the code of test t::TestGroup::test_method was replaced"]


def shadowing(solution_names: dict, test_source: str) -> list[str]:
    solution = types.ModuleType("solution")
    vars(solution).update(solution_names)
    code = compile(test_source, "/work/test_solution.py", "exec")
    namespace: dict = {}
    sys.modules["solution"] = solution
    try:
        exec(code, namespace)
        return shadowed_names(namespace, code, test_source)
    finally:
        del sys.modules["solution"]


def test_a_builtin_shadowed_through_the_star_import_is_refused():
    problems = shadowing({"ValueError": BaseException, "add": len}, "from solution import *\n")
    assert problems == ["the solution's 'ValueError' shadows the 'ValueError' the tests use "
                        "(through `from solution import *`): rename it"]


def test_an_import_of_the_test_file_shadowed_by_the_solution_is_refused():
    source = "import pytest\nfrom solution import *\n"
    assert len(shadowing({"pytest": types.ModuleType("pytest")}, source)) == 1
    assert shadowing({"pytest": pytest}, source) == []  # the solution's own `import pytest`


def test_a_builtin_name_imported_by_name_is_the_tests_choice():
    assert shadowing({"max": lambda items: 0}, "from solution import max\n") == []


def test_any_builtin_but_the_mockable_ones_is_watched(guard, monkeypatch):
    watcher, _ = guard
    monkeypatch.setattr(builtins, "sorted", lambda items: items)
    assert "builtins.sorted" in watcher.changes(full=False)


def test_a_c_function_of_the_same_name_reexported_by_the_solution_is_no_shadow():
    import math

    assert shadowing({"pow": math.pow}, "from solution import *\n") == []
    assert len(shadowing({"pow": math.fmod}, "from solution import *\n")) == 1
