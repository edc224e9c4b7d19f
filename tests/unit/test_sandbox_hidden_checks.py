"""A benchmark's hidden check split into calls judged outside the sandbox and the rest."""

from __future__ import annotations

import pytest

from codeloop.evals.humaneval import (
    HiddenCall,
    Problem,
    hidden_tests,
    load_problems,
    score,
    split_check,
)

CHECK = '''
METADATA = {}


def check(candidate):
    import math
    assert candidate([1, 2], n=3) == (1, 2), "a message"
    assert 7 == candidate([], n=0)
    assert candidate([3], n=1) is True
    assert not candidate([4], n=-1)
    assert candidate([5], n=2)
    assert abs(candidate([6], n=1) - 0.5) < 1e-6
    for i in range(3):
        assert candidate([i], n=i) == i
    assert candidate([1], n=1) == 1; assert candidate([2], n=2) == 2
'''


def problem(test: str = CHECK) -> Problem:
    return Problem("own/1", "def f(items, n):\n    pass\n", "f", test)


def test_literal_asserts_become_calls_with_their_expected_values():
    split = split_check(problem())
    assert [(c.call, c.kind, c.expected) for c in split.calls] == [
        ("f([1, 2], n=3)", "==", (1, 2)),
        ("f([], n=0)", "==", 7),
        ("f([3], n=1)", "is", True),
        ("f([4], n=-1)", "falsy", None),
        ("f([5], n=2)", "truthy", None),
    ]


def test_the_rest_keeps_what_could_not_be_judged_outside_and_still_compiles():
    rest = split_check(problem()).rest
    assert rest is not None
    compile(rest, "test.py", "exec")
    assert "abs(candidate([6], n=1) - 0.5)" in rest
    assert "for i in range(3)" in rest
    assert "assert candidate([1], n=1) == 1; assert" in rest  # two on a line stay in place
    assert "(1, 2)" not in rest and "is True" not in rest


def test_a_check_made_only_of_literal_asserts_needs_no_run_in_process():
    split = split_check(problem("def check(candidate):\n    import math\n"
                                "    assert candidate([1], n=1) == 2\n"))
    assert split.rest is None
    assert split.calls == [HiddenCall("assert candidate([1], n=1) == 2", "f([1], n=1)", "==", 2)]


@pytest.mark.parametrize("test", ["def check(c):\n    x = c(1)\n    assert x == 2\n",
                                  "def helper():\n    pass\n", "not python ("])
def test_without_literal_asserts_everything_runs_in_process(test):
    split = split_check(problem(test))
    assert (split.calls, split.rest) == ([], test)


def test_the_in_process_part_imports_by_name_and_never_a_builtin():
    source = "def check(candidate):\n    assert poly(candidate(1)) == sorted([1])\n"
    tests = hidden_tests(problem(source), source, {"f", "poly", "sorted", "unused"},
                         "test_hidden")
    assert tests.startswith("from solution import f, poly\n")
    assert tests.endswith("def test_hidden():\n    check(f)\n")


def test_most_humaneval_asserts_are_judged_outside():
    splits = [split_check(p) for p in load_problems()]
    assert sum(len(s.calls) for s in splits) > 1000
    assert sum(s.rest is None for s in splits) > 100


def test_a_score_says_which_part_was_judged_where():
    truncate = load_problems(2, 1)[0]  # one literal assert, two computed ones
    report = score(truncate, "def truncate_number(number):\n    return number % 1.0\n")
    assert report.status == "passed", report.detail
    assert [(t.name, t.judged_in_process) for t in report.tests] == [
        ("test_hidden_benchmark_check", False), ("test_hidden_benchmark_check_in_process", True)]
    assert "1 assert(s) of the hidden check judged outside the tested process, the rest in it" in (
        report.detail)
    wrong = score(truncate, "def truncate_number(number):\n    return 0.5\n")
    assert [t.outcome for t in wrong.tests] == ["passed", "failed"]
    assert wrong.status == "failed"
