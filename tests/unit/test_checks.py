"""Checks judged outside the tested process: parsing, comparing, refuting wrong model tests."""

from __future__ import annotations

from codeloop.nodes.checks import (
    Check,
    checks_in,
    ready_for_review,
    refute,
    run_checks,
    trusted_pass,
)
from codeloop.sandbox import Limits
from codeloop.sandbox.calls import decode, matches

ADD = "def add(a, b):\n    return a + b\n"
LIMITS = Limits(wall_seconds=20)


def test_one_assert_tests_become_checks_and_others_stay_pytest_tests() -> None:
    tests = (
        "from solution import *\nimport pytest\n\n"
        "def test_small():\n    assert add(1, 2) == 3\n\n"
        "def test_float():\n    assert add(0.1, 0.2) == pytest.approx(0.3)\n\n"
        "def test_raises():\n    with pytest.raises(TypeError):\n        add(1, 'x')\n\n"
        "def test_loop():\n    for i in range(3):\n        assert add(i, 0) == i\n\n"
        "def test_name():\n    x = 2\n    assert add(x, 1) == 3\n"
    )
    found = checks_in(tests, "model")
    assert [(c.name, c.call, c.expected) for c in found] == [
        ("test_small", "add(1, 2)", "3"),
        ("test_float", "add(0.1, 0.2)", "0.3"),
        ("test_raises", "add(1, 'x')", "raises TypeError"),
    ]


def test_checks_written_in_other_common_shapes_are_still_checks() -> None:
    tests = (
        'def test_doc():\n    """Adds two small numbers."""\n    assert add(1, 2) == 3\n\n'
        "def test_assigned():\n    with pytest.raises(TypeError):\n        total = add(1, 'x')\n\n"
        "def test_built_argument():\n    assert add('a' * 3, 'b') == 'aaab'\n\n"
        "def test_named_argument():\n    assert add(len('ab'), 1) == 3\n\n"
        "def test_not_an_error():\n    assert add(0, 0) == print\n"
    )
    found = checks_in(tests, "model")
    assert [(c.name, c.call, c.expected) for c in found] == [
        ("test_doc", "add(1, 2)", "3"),
        ("test_assigned", "add(1, 'x')", "raises TypeError"),
        ("test_built_argument", "add('a' * 3, 'b')", "'aaab'"),
    ]
    judged = {c["name"]: c["outcome"] for c in run_checks(ADD, found, LIMITS)}
    assert judged == {"test_doc": "passed", "test_assigned": "passed", "test_built_argument": "passed"}


def test_values_are_compared_here_and_an_object_that_equals_everything_fails() -> None:
    code = ADD + (
        "class Yes:\n    def __eq__(self, other):\n        return True\n\n"
        "def cheat(x):\n    return Yes()\n\n"
        "def boom(x):\n    raise ValueError('no')\n"
    )
    checks = [
        Check("a", "add(2, 3)", "5", "task"), Check("b", "add(2, 3)", "6", "task"),
        Check("c", "cheat(1)", "1", "task"), Check("d", "boom(1)", "raises ValueError", "model"),
        Check("e", "boom(1)", "1", "model"), Check("f", "add(0.1, 0.2)", "0.3", "user"),
    ]
    judged = {c["name"]: c for c in run_checks(code, checks, LIMITS)}
    assert {n: c["outcome"] for n, c in judged.items()} == {
        "a": "passed", "b": "failed", "c": "error", "d": "passed", "e": "failed", "f": "passed",
    }
    assert judged["b"]["actual"] == "5"
    assert "not plain data" in judged["c"]["actual"]
    assert judged["e"]["actual"] == "raised ValueError: no"


def test_shadowing_a_builtin_does_not_change_what_a_check_means() -> None:
    code = ADD + "len = lambda x: 0\nsorted = lambda x: [1]\n"
    judged = run_checks(code, [Check("a", "add(len([1, 2]), 0)", "2", "task")], LIMITS)
    assert judged[0]["outcome"] == "passed"


def test_tuples_lists_and_floats_keep_their_meaning() -> None:
    assert matches(decode({"tuple": [1, 2]}), (1, 2)) and not matches(decode([1, 2]), (1, 2))
    assert matches(0.1 + 0.2, 0.3) and not matches(0.31, 0.3)
    assert matches(True, 1) and not matches("1", 1)
    assert matches(decode({"dict": [["a", {"set": [1, 2]}]]}), {"a": {1, 2}})


def _attempt(outcomes: dict[str, tuple[str, object]], trusted: str = "passed") -> dict:
    checks = [{"name": "test_task_example_1", "call": "f(0)", "expected": "0", "origin": "task",
               "outcome": trusted, "actual": "0", "value": 0}]
    for name, (outcome, value) in outcomes.items():
        checks.append({"name": name, "call": f"f({name!r})", "expected": "9", "origin": "model",
                       "outcome": outcome, "actual": repr(value), "value": value})
    return {"iteration": 1, "code": "", "tests": "", "parse_error": None, "checks": checks,
            "tokens": {}, "seconds": {}}


def test_a_model_test_two_example_passing_attempts_contradict_alike_is_refuted() -> None:
    first = _attempt({"test_a": ("failed", 4), "test_b": ("failed", 1)})
    second = _attempt({"test_a": ("failed", 4), "test_b": ("failed", 2)})
    marked = {c["name"]: c.get("refuted", False) for c in refute(second["checks"], [first], True)}
    assert marked == {"test_task_example_1": False, "test_a": True, "test_b": False}


def test_no_refutation_from_one_attempt_or_from_attempts_failing_the_examples() -> None:
    alone = _attempt({"test_a": ("failed", 4)})
    assert not any(c.get("refuted") for c in refute(alone["checks"], [], True))
    wrong = _attempt({"test_a": ("failed", 4)}, trusted="failed")
    assert not any(c.get("refuted") for c in refute(alone["checks"], [wrong], True))


def test_without_trusted_checks_no_number_of_agreeing_attempts_refutes() -> None:
    def bare(value: int) -> dict:
        attempt = _attempt({"test_a": ("failed", value)})
        attempt["checks"] = attempt["checks"][1:]
        return attempt

    three = refute(bare(4)["checks"], [bare(4), bare(4)], False)
    assert not three[0].get("refuted")
    assert refute(bare(4)["checks"], [bare(4), bare(4)], True)[0].get("refuted")


def test_review_only_when_nothing_but_refuted_checks_fails() -> None:
    attempt = _attempt({"test_a": ("failed", 4)})
    attempt["report"] = {"status": "failed", "passed": 1, "failed": 1, "total": 2, "detail": "",
                         "duration": 0.0, "isolation": "",
                         "tests": [{"name": "test_task_example_1", "outcome": "passed", "message": ""},
                                   {"name": "test_a", "outcome": "failed", "message": "assert 4 == 9"}]}
    assert trusted_pass(attempt) and not ready_for_review(attempt)
    attempt["checks"] = refute(attempt["checks"], [_attempt({"test_a": ("failed", 4)})], True)
    assert ready_for_review(attempt)


def test_a_model_test_that_contradicts_a_task_example_is_refuted_at_once() -> None:
    attempt = _attempt({})
    attempt["checks"].append({"name": "test_raises", "call": "f(0)", "expected": "raises ValueError",
                              "origin": "model", "outcome": "failed", "actual": "0", "value": 0})
    marked = {c["name"]: c.get("refuted", False) for c in refute(attempt["checks"], [], True)}
    assert marked == {"test_task_example_1": False, "test_raises": True}


def test_outcomes_are_matched_by_test_not_only_by_call() -> None:
    first = _attempt({"test_a": ("failed", 4)})
    second = _attempt({"test_a": ("failed", 4)})
    same_call_passing = dict(second["checks"][1], name="test_other", outcome="passed")
    second["checks"].append(same_call_passing)
    first["checks"].append(dict(same_call_passing))
    marked = {c["name"]: c.get("refuted", False) for c in refute(second["checks"], [first], True)}
    assert marked["test_a"] is True and marked["test_other"] is False


def test_a_model_test_expecting_an_error_the_task_never_names_is_refuted() -> None:
    attempt = _attempt({})
    for name, error in (("test_invented", "ValueError"), ("test_stated", "TypeError")):
        attempt["checks"].append({"name": name, "call": "f(-1)", "expected": f"raises {error}",
                                  "origin": "model", "outcome": "failed", "actual": "[]",
                                  "value": []})
    task = "Write f(n). A float n raises TypeError."
    marked = {c["name"]: c.get("refuted", False) for c in refute(attempt["checks"], [], True, task)}
    assert marked["test_invented"] is True and marked["test_stated"] is False


def test_tests_nested_too_deep_for_the_parser_give_no_checks_and_no_crash() -> None:
    # About 200 nested brackets: Python's parser raises MemoryError here, not SyntaxError.
    deep = "def test_deep():\n    assert add(" + "[1, " * 198 + "]" * 198 + ", 1) == 2\n"
    assert checks_in(deep, "model") == []
