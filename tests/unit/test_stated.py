"""Stated rules that say what a call gives: read as checks, trusted, each covering its rule."""

from __future__ import annotations

import json

from codeloop.graph import graph
from codeloop.nodes.checks import refute
from codeloop.nodes.rules import anchored, rules_for
from codeloop.nodes.stated import given_tests, said_in, stated_checks
from tests.helpers import reply_with_code as reply_code
from tests.helpers import reply_with_tests as reply_tests

MEDIAN = (
    "Write a function median(values) that returns the median of a list of numbers: the middle "
    "value of the sorted list, or the mean of the two middle values when the list has an even "
    "length.\nThe input list must not be modified. An empty list raises ValueError."
)
MEDIAN_CODE = """
def median(values):
    if not values:
        raise ValueError("empty")
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2
"""
MEDIAN_NO_CHECK = MEDIAN_CODE.replace('    if not values:\n        raise ValueError("empty")\n', "")
MEDIAN_TESTS = """
def test_rule_1_odd():
    assert median([3, 1, 2]) == 2

def test_rule_2_unchanged():
    values = [3, 1, 2]
    median(values)
    assert values == [3, 1, 2]
"""


def verdict(count: int) -> str:
    rules = [{"rule": n, "where": "line 2", "met": True} for n in range(1, count + 1)]
    return json.dumps({"rules": rules, "issues": [], "suggestions": [], "score": 9,
                       "approved": True})


def test_a_sentence_that_says_what_a_call_gives_is_read_as_a_check():
    assert said_in('Turn CamelCase into snake_case: "CamelCase" becomes "camel_case".') == [
        ("'CamelCase'", "'camel_case'")]
    assert said_in("An empty list raises ValueError.") == [("[]", "raises ValueError")]
    assert said_in("Anything else, including the empty string, raises ValueError.") == [
        ("''", "raises ValueError")]
    assert said_in("Anything that is not a numeral raises ValueError: the empty string, "
                   "lowercase letters.") == [("''", "raises ValueError")]
    assert said_in("The empty string encodes to the empty string.") == [("''", "''")]
    assert said_in("An empty text gives an empty list.") == [("''", "[]")]


def test_sentences_that_do_not_say_it_outright_are_not_checks():
    assert said_in("An empty list does not raise ValueError.") == []
    assert said_in("An empty input gives an empty list.") == []  # what is an empty input?
    assert said_in("The empty string is balanced.") == []
    assert said_in("A size that is zero or negative raises ValueError.") == []


def test_checks_are_named_after_their_rule_and_only_for_one_parameter_without_examples():
    checks = stated_checks(MEDIAN, MEDIAN_CODE)
    assert [(c.name, c.call, c.expected) for c in checks] == [
        ("test_rule_3_stated", "median([])", "raises ValueError")]
    snake = ('Write to_snake(name) that turns camelCase into snake_case.\nA run of capitals is '
             'one word, so "HTTPServer" becomes "http_server" and "getURL" becomes "get_url".')
    names = [c.name for c in stated_checks(snake, "def to_snake(name):\n    return name\n")]
    assert names == ["test_rule_2_stated_1", "test_rule_2_stated_2"]
    renamed = stated_checks(MEDIAN, MEDIAN_CODE.replace("def median", "def middle"))
    assert [c.call for c in renamed] == ["median([])"]  # the task's name: a NameError says so
    two = MEDIAN.replace("median(values)", "median(values, key)")
    assert stated_checks(two, MEDIAN_CODE.replace("(values)", "(values, key)")) == []
    examples = MEDIAN + "\n>>> median([1, 2, 3])\n2\n"
    assert stated_checks(examples, MEDIAN_CODE) == []
    assert "with pytest.raises(ValueError):\n        median([])" in given_tests(MEDIAN, MEDIAN_CODE)


def test_a_rule_check_is_trusted_but_leaves_the_rules_and_does_not_anchor_a_vote():
    rule_check = {"name": "test_rule_3_stated", "call": "median([])",
                  "expected": "raises ValueError", "origin": "rule", "outcome": "passed"}
    attempt = {"checks": [rule_check]}
    assert not anchored(attempt) and len(rules_for(MEDIAN, attempt)) == 3  # type: ignore[arg-type]
    model_check = {"name": "test_rule_1_odd", "call": "median([3, 1, 2])", "expected": "3",
                   "origin": "model", "outcome": "failed", "value": 2}
    earlier = [{"checks": [rule_check, model_check]}, {"checks": [rule_check, model_check]}]
    marked = refute([rule_check, model_check], earlier, anchored(attempt))  # type: ignore[arg-type]
    assert not marked[1].get("refuted")  # three agreeing attempts, but nothing anchors them


def test_a_stated_rule_the_code_breaks_fails_as_the_tasks_own_test_before_any_model_test(scripted):
    context, model = scripted([reply_code(MEDIAN_NO_CHECK), reply_code(MEDIAN_CODE),
                               reply_tests(MEDIAN_TESTS), verdict(3)])
    out = graph.invoke({"task": MEDIAN}, context=context)
    assert out["status"] == "approved" and len(out["attempts"]) == 2
    first = out["attempts"][0]
    assert [c["outcome"] for c in first["checks"] if c["origin"] == "rule"] == ["failed"]
    retry = model.prompts[1][-1].text
    assert "test_rule_3_stated (a test from the task itself: the solution must pass it)" in retry
    assert len(model.prompts) == 4  # no tests nor review for the attempt that broke the rule


def test_the_rule_check_covers_its_rule_so_right_code_is_approved(scripted):
    context, model = scripted([reply_code(MEDIAN_CODE), reply_tests(MEDIAN_TESTS), verdict(3)])
    out = graph.invoke({"task": MEDIAN}, context=context)
    assert out["status"] == "approved" and len(model.prompts) == 3
    assert "untested_rules" not in out["final"]
