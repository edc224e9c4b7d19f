"""Bad and unusual input yields a clear report; many runs at once stay separate and correct."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from codeloop.sandbox import Limits, run_sandboxed
from codeloop.sandbox.run import MAX_SOURCE_BYTES

pytestmark = pytest.mark.integration

ADD = "def add(a, b):\n    return a + b\n"


def test_syntax_error_in_the_code_is_a_collection_error():
    report = run_sandboxed("def add(a, b)\n    return a + b\n", "from solution import add\n"
                           "def test_add():\n    assert add(1, 2) == 3\n")
    assert report.status == "error"
    assert "collecting the tests failed" in report.detail
    assert "SyntaxError" in report.detail
    assert "solution.py" in report.detail


def test_syntax_error_in_the_tests_is_a_collection_error():
    report = run_sandboxed(ADD, "def test_add(:\n    pass\n")
    assert report.status == "error"
    assert "SyntaxError" in report.detail


def test_zero_tests_is_an_error_that_says_so():
    report = run_sandboxed(ADD, "from solution import add\n\nX = add(1, 2)\n")
    assert report.status == "error"
    assert "no tests were collected" in report.detail


def test_hang_during_collection_is_a_timeout_that_says_where():
    report = run_sandboxed("import time\ntime.sleep(1000)\n", "from solution import *\n"
                           "def test_x():\n    pass\n", Limits(wall_seconds=1.5))
    assert report.status == "timeout"
    assert "while importing the code and collecting the tests" in report.detail


def test_a_thousand_tests_run_and_are_all_reported():
    tests = "from solution import add\n" + "".join(
        f"def test_{n}():\n    assert add({n}, 1) == {n + 1}\n" for n in range(1000))
    report = run_sandboxed(ADD, tests, Limits(wall_seconds=120))
    assert report.status == "passed", report.detail
    assert len(report.tests) == 1000


def test_enormous_input_is_refused_with_a_clear_reason():
    tests = "# " + "x" * MAX_SOURCE_BYTES + "\ndef test_x():\n    pass\n"
    report = run_sandboxed(ADD, tests)
    assert report.status == "error"
    assert report.detail.startswith("not run:")
    assert "bytes" in report.detail


def test_failure_messages_keep_pytest_quality():
    tests = "from solution import add\n\ndef test_add():\n    assert add(2, 2) == [4]\n"
    report = run_sandboxed(ADD, tests)
    assert report.status == "failed"
    message = report.tests[0].message
    assert "assert 4 == [4]" in message
    assert "where 4 = add(2, 2)" in message
    assert "test_solution.py:4" in message


def test_concurrent_runs_from_many_threads_stay_separate():
    def one(n: int) -> tuple[int, str, list[str]]:
        code = f"VALUE = {n}\n"
        tests = (f"from solution import VALUE\n\ndef test_value_{n}():\n    assert VALUE == {n}\n"
                 f"\ndef test_wrong_{n}():\n    assert VALUE == -1\n")
        report = run_sandboxed(code, tests)
        return n, report.status, [f"{t.name}:{t.outcome}" for t in report.tests]

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(one, range(16)))
    for n, status, tests in results:
        assert status == "failed"
        assert tests == [f"test_value_{n}:passed", f"test_wrong_{n}:failed"]
    assert time.monotonic() - started < 60


def test_a_dead_zygote_is_replaced():
    from codeloop.sandbox.forkserver import SERVER

    assert run_sandboxed(ADD, "def test_x():\n    pass\n").status == "passed"
    assert SERVER._proc is not None
    SERVER._proc.kill()
    SERVER._proc.wait()
    assert run_sandboxed(ADD, "def test_x():\n    pass\n").status == "passed"


def test_a_zygote_that_cannot_start_is_a_clear_error(monkeypatch, tmp_path):
    from codeloop.sandbox import forkserver, run

    monkeypatch.setattr(forkserver, "CHILD_DIR", tmp_path / "missing")
    monkeypatch.setattr(run, "SERVER", forkserver.ForkServer())
    report = run_sandboxed(ADD, "def test_x():\n    pass\n")
    assert report.status == "error"
    assert report.detail.startswith("not run: the sandbox's zygote did not start")
