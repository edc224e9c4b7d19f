"""The tamper guard and the audit hook's checks, exercised in this process (no sandbox)."""

from __future__ import annotations

import builtins
import os

import _pytest.python
import pytest

from codeloop.sandbox.child.audit import _check_open
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
