"""Stated rules: split from the task, one test per rule, coverage and the per-rule verdict."""

from __future__ import annotations

import json

from codeloop.graph import graph
from codeloop.nodes.review import verdict_schema
from codeloop.nodes.rules import merged_tests, rules_for, stated_rules, uncovered
from tests.helpers import reply_with_code as reply_code
from tests.helpers import reply_with_tests as reply_tests

CHUNK = (
    "Write a function chunk(items, size) that splits the list items into lists of length size; "
    "the last one may be shorter.\nAn empty list gives an empty list. A size that is zero or "
    "negative raises ValueError."
)
CHUNK_CODE = """
def chunk(items, size):
    if size <= 0:
        raise ValueError("size")
    return [items[i:i + size] for i in range(0, len(items), size)]
"""
RULE_1_2 = """
def test_rule_1_splits():
    assert chunk([1, 2, 3], 2) == [[1, 2], [3]]

def test_rule_2_empty():
    assert chunk([], 2) == []
"""
RULE_3 = """
import pytest

def test_rule_3_zero_size():
    with pytest.raises(ValueError):
        chunk([1], 0)
"""


def verdict(*met: bool, approved: bool = True) -> str:
    rules = [{"rule": n, "where": "line 2", "met": m} for n, m in enumerate(met, 1)]
    return json.dumps({"rules": rules, "issues": [], "suggestions": [], "score": 9,
                       "approved": approved})


def test_each_sentence_is_a_rule_and_examples_are_left_to_the_example_checks():
    assert stated_rules(CHUNK) == [
        "Write a function chunk(items, size) that splits the list items into lists of length "
        "size; the last one may be shorter.",
        "An empty list gives an empty list.",
        "A size that is zero or negative raises ValueError.",
    ]
    docstring = 'def f(x):\n    """Return x doubled.\n    Zero gives zero.\n\n    >>> f(2)\n    4\n    """\n'
    assert stated_rules(docstring) == ["Return x doubled.", "Zero gives zero."]
    bullets = "Valid when:\n- it has one dot '.'\n- the part before it is not empty"
    assert stated_rules(bullets) == ["it has one dot '.'", "the part before it is not empty"]


def test_a_one_sentence_task_has_no_separate_rules():
    assert stated_rules("Write add(a, b) returning the sum of two numbers.") == []
    assert stated_rules("Parse 01.1.1.1 as an address, e.g. 1.2.3.4, in one go.") == []


def test_a_task_with_trusted_checks_answers_to_them_not_to_its_sentences():
    with_examples = {"checks": [{"origin": "task", "outcome": "passed"}]}
    assert rules_for(CHUNK, with_examples) == []  # type: ignore[arg-type]
    assert len(rules_for(CHUNK, {})) == 3  # type: ignore[arg-type]


def test_a_rule_is_covered_only_by_a_passing_test_that_is_not_refuted():
    attempt = {
        "report": {"tests": [
            {"name": "test_rule_1_a", "outcome": "passed"},
            {"name": "test_rule_2_b", "outcome": "failed"},
            {"name": "test_rule_3_c", "outcome": "passed"},
            {"name": "test_other", "outcome": "passed"},
        ]},
        "checks": [{"name": "test_rule_3_c", "refuted": True}],
    }
    assert uncovered(attempt, ["one", "two", "three", "four"]) == [2, 3, 4]  # type: ignore[arg-type]


def test_added_tests_keep_the_earlier_ones_and_get_free_names():
    merged = merged_tests("def test_rule_1_a():\n    pass\n",
                          "def test_rule_1_a():\n    pass\n\ndef test_rule_2_b():\n    pass\n")
    names = [line for line in merged.splitlines() if line.startswith("def ")]
    assert names == ["def test_rule_1_a():", "def test_rule_1_a_2():", "def test_rule_2_b():"]


def test_the_verdict_schema_asks_one_answer_per_rule_and_none_without_rules():
    schema = verdict_schema(3)
    rules = schema["properties"]["rules"]  # type: ignore[index]
    assert (rules["minItems"], rules["maxItems"]) == (3, 3)
    assert rules["items"]["properties"]["rule"]["enum"] == [1, 2, 3]
    assert schema["required"][0] == "rules"  # type: ignore[index]
    plain = verdict_schema()
    assert "rules" not in plain["properties"] and "$defs" not in plain  # type: ignore[operator]
    assert plain["required"] == ["issues", "suggestions", "score", "approved"]


def test_tests_are_asked_per_rule_and_again_for_a_rule_without_one(scripted):
    context, model = scripted([reply_code(CHUNK_CODE), reply_tests(RULE_1_2),
                               reply_tests(RULE_3), verdict(True, True, True)])
    out = graph.invoke({"task": CHUNK}, context=context)
    assert out["status"] == "approved"
    first_ask, second_ask = model.prompts[1][-1].text, model.prompts[2][-1].text
    assert "1. Write a function chunk" in first_ask and "def test_rule_2_<what_it_checks>():" in first_ask
    assert "check none of these rules: 3." in second_ask
    final = out["final"]
    assert "def test_rule_1_splits" in final["tests"] and "def test_rule_3_zero_size" in final["tests"]
    assert final["report"]["passed"] == 3
    review_schema = model.options[3]["json_schema"]
    assert review_schema["properties"]["rules"]["maxItems"] == 3
    assert "3. A size that is zero or negative raises ValueError." in model.prompts[3][-1].text
    assert [a["text"] for a in final["verdict"]["rules"]][1] == "An empty list gives an empty list."


def test_a_rule_without_a_passing_test_blocks_approval_and_ends_the_run(scripted):
    context, model = scripted([reply_code(CHUNK_CODE), reply_tests(RULE_1_2),
                               reply_tests(RULE_1_2)])
    out = graph.invoke({"task": CHUNK}, context=context)
    assert out["status"] == "not_approved" and len(out["attempts"]) == 1
    assert len(model.prompts) == 3  # solution, tests, tests for rule 3: no review, no retry
    assert out["final"]["untested_rules"] == ["A size that is zero or negative raises ValueError."]


def test_a_rule_the_reviewer_says_is_not_met_blocks_approval_and_reaches_the_next_prompt(scripted):
    context, model = scripted(
        [reply_code(CHUNK_CODE), reply_tests(RULE_1_2 + RULE_3), verdict(True, False, True),
         reply_code(CHUNK_CODE), verdict(True, True, True)])
    out = graph.invoke({"task": CHUNK}, context=context)
    assert [a["approved"] for a in out["attempts"]] == [False, True]
    assert out["attempts"][0]["verdict"]["approved"] is True  # the overall word is not enough
    retry = model.prompts[3][-1].text
    assert "A rule of the task is not met: An empty list gives an empty list." in retry


def test_a_model_that_writes_no_tests_is_asked_once_and_the_run_goes_on(scripted):
    context, model = scripted([reply_code(CHUNK_CODE), "I cannot write tests.",
                               reply_code(CHUNK_CODE), "Still no tests."], max_iterations=2)
    out = graph.invoke({"task": CHUNK}, context=context)
    assert out["status"] == "not_approved" and len(out["attempts"]) == 2
    assert len(model.prompts) == 4  # per attempt: the solution, and tests asked for once


def test_a_rule_the_reviewer_left_unanswered_is_not_met():
    from codeloop.nodes.review import parse_verdict

    parsed, _ = parse_verdict(verdict(True, True))
    assert parsed is not None and parsed.unmet(2) == [] and parsed.unmet(3) == [3]
