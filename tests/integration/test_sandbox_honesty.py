"""Tries to make failing tests look passed: exiting early, forging records, rewriting pytest.

Every attack runs against tests that must fail (or against no real tests at all); the
sandbox passes this file only if none of them ends as "passed".
"""

from __future__ import annotations

import json

import pytest

from codeloop.sandbox import Limits, TestReport, run_sandboxed

pytestmark = pytest.mark.integration

FAILING_TESTS = """
from solution import *

def test_truth():
    assert 1 == 2, "this test must fail"

def test_other():
    assert "real" == "fake"
"""


def run(code: str, tests: str = FAILING_TESTS, **limits: object) -> TestReport:
    return run_sandboxed(code, tests, Limits(**limits))


def assert_not_passed(report: TestReport) -> None:
    assert report.status in ("failed", "error"), (report.status, report.detail, report.tests)


@pytest.mark.parametrize("exit_call", [
    "import sys; sys.exit(0)", "import os; os._exit(0)", "raise SystemExit(0)",
    "import pytest; pytest.exit('ok', 0)",
])
def test_exiting_at_import_is_an_error(exit_call):
    report = run(exit_call + "\n")
    assert report.status == "error", (report.status, report.detail)


def test_exiting_in_the_middle_of_the_run_is_an_error():
    tests = "def test_first():\n    pass\n\ndef test_second():\n    import os\n    os._exit(0)\n"
    report = run("", tests)
    assert report.status == "error"
    assert "without a complete report" in report.detail


def test_conftest_written_by_the_code_is_ignored():
    code = '''
import pathlib
pathlib.Path("conftest.py").write_text("""
import pytest
@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    report.outcome = "passed"
    return report
""")
pathlib.Path("pytest.ini").write_text("[pytest]\\naddopts = -p no:python\\n")
'''
    report = run(code)
    assert report.status == "failed"
    assert [t.outcome for t in report.tests] == ["failed", "failed"]


PATCHES = {
    "runtest is a no-op": "import _pytest.python\n"
    "_pytest.python.Function.runtest = lambda self: None\n",
    "call_and_report rewritten": "import _pytest.runner\n"
    "_orig = _pytest.runner.call_and_report\n"
    "def _fake(item, when, log=True, **kw):\n"
    "    report = _orig(item, when, log=False, **kw)\n"
    "    report.outcome = 'passed'\n"
    "    item.ihook.pytest_runtest_logreport(report=report)\n"
    "    return report\n"
    "_pytest.runner.call_and_report = _fake\n",
    "assertion error turned into a skip": "import builtins, pytest\n"
    "builtins.AssertionError = pytest.skip.Exception\n",
    "report class patched": "import _pytest.reports\n"
    "_pytest.reports.TestReport.passed = property(lambda self: True)\n",
    "plugin registered through the garbage collector": "import gc, pytest, _pytest.config\n"
    "class Force:\n"
    "    @pytest.hookimpl(wrapper=True)\n"
    "    def pytest_runtest_makereport(self, item, call):\n"
    "        report = yield\n"
    "        report.outcome = 'passed'\n"
    "        return report\n"
    "for obj in gc.get_objects():\n"
    "    if isinstance(obj, _pytest.config.Config):\n"
    "        obj.pluginmanager.register(Force())\n",
}


@pytest.mark.parametrize("patch", PATCHES.values(), ids=PATCHES.keys())
def test_monkeypatching_pytest_is_never_a_pass(patch):
    report = run(patch)
    assert_not_passed(report)


def test_plugin_loaded_by_the_test_module_is_detected():
    code = (
        "import pytest\n"
        "@pytest.hookimpl(wrapper=True)\n"
        "def pytest_runtest_makereport(item, call):\n"
        "    report = yield\n"
        "    report.outcome = 'passed'\n"
        "    return report\n"
    )
    report = run(code, "pytest_plugins = ['solution']\n" + FAILING_TESTS)
    assert_not_passed(report)


@pytest.mark.parametrize("sabotage", [
    "import os\nos.closerange(3, 256)\n",
    "import os\nos.dup2(os.open(os.devnull, os.O_WRONLY), 3)\n",
])
def test_closing_or_replacing_the_report_channel_is_an_error(sabotage):
    tests = "from solution import *\n\ndef test_ok():\n    assert True\n"
    report = run(sabotage, tests)
    assert report.status == "error", (report.status, report.detail)


def test_forged_records_are_ignored():
    forged = [{"kind": "collected", "names": ["test_truth"]},
              {"kind": "test", "name": "test_truth", "outcome": "passed", "message": ""},
              {"kind": "finished", "exitstatus": 0, "collected": 1}]
    lines = "".join(json.dumps({**r, "nonce": "0" * 32}) + "\n" for r in forged)
    code = (
        "import os, sys\n"
        f"LINES = {lines!r}\n"
        "for fd in (1, 2, 3):\n"
        "    os.write(fd, LINES.encode())\n"
        "os._exit(0)\n"
    )
    report = run(code)
    assert report.status == "error"
    assert report.tests == []


def test_forked_child_cannot_report_for_the_runner():
    code = (
        "import os, time\n"
        "if os.fork() != 0:\n"
        "    os._exit(0)\n"  # the runner's process leaves; its child carries on in pytest
        "time.sleep(0.1)\n"
    )
    tests = "from solution import *\n\ndef test_ok():\n    assert True\n"
    report = run(code, tests)
    assert report.status == "error", (report.status, report.detail)


def test_all_skipped_is_not_a_pass():
    tests = "import pytest\n\n@pytest.mark.skip\ndef test_a():\n    assert False\n"
    report = run("", tests)
    assert report.status == "failed"
    assert "skipped" in report.detail


def test_honest_results_still_pass():
    tests = "from solution import *\n\ndef test_add():\n    assert add(2, 3) == 5\n"
    report = run("def add(a, b):\n    return a + b\n", tests)
    assert report.status == "passed", report.detail
    assert [(t.name, t.outcome) for t in report.tests] == [("test_add", "passed")]


def test_ordinary_mocking_is_not_mistaken_for_tampering():
    code = ("def ask():\n    return int(input()) * 2\n\n"
            "class Clock:\n    def now(self):\n        return 1\n")
    tests = '''
import builtins
from unittest import mock
import pytest
from solution import Clock, ask

@pytest.fixture(scope="module", autouse=True)
def typed_input():
    with mock.patch("builtins.input", return_value="21"):
        yield

def test_ask():
    assert ask() == 42

def test_ask_again(monkeypatch, capsys):
    monkeypatch.setattr(builtins, "print", lambda *a, **k: None)
    assert ask() == 42

def test_clock():
    with mock.patch.object(Clock, "now", return_value=5):
        assert Clock().now() == 5
'''
    report = run(code, tests)
    assert report.status == "passed", (report.detail, report.tests)
