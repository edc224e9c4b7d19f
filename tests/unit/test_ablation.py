"""bench/bench_ablation.py switches one part of the loop off: each switch does, and only inside."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from codeloop.graph import graph
from codeloop.nodes.rules import rules_for
from tests.helpers import reply_with_code as reply_code
from tests.helpers import reply_with_tests as reply_tests
from tests.helpers import reply_with_verdict as reply_verdict

BENCH = Path(__file__).parents[2] / "bench" / "bench_ablation.py"
spec = importlib.util.spec_from_file_location("bench_ablation", BENCH)
assert spec and spec.loader
ablation = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ablation)

DOUBLE = '''def double(x):
    """Return x doubled.
    >>> double(2)
    4
    >>> double(0)
    0
    """
'''
DOUBLE_CODE = "def double(x):\n    return 2 * x\n"
PROSE = ("Write count_vowels(text) that counts the vowels a, e, i, o and u in text. "
         "Upper case vowels count too. An empty text has no vowels.")


def test_without_examples_the_model_writes_tests_the_examples_made_unneeded(scripted):
    tests = "def test_three():\n    assert double(3) == 6\n"
    context, model = scripted([reply_code(DOUBLE_CODE), reply_verdict(True, 9)])
    out = graph.invoke({"task": DOUBLE}, context=context)
    assert out["status"] == "approved" and len(model.prompts) == 2  # solution, review
    assert {c["origin"] for c in out["final"]["checks"]} == {"task"}

    context, model = scripted([reply_code(DOUBLE_CODE), reply_tests(tests), reply_verdict(True, 9)])
    with ablation.switched_off("examples"):
        out = graph.invoke({"task": DOUBLE}, context=context)
    assert len(model.prompts) == 3  # solution, the model's tests, review
    assert {c["origin"] for c in out["final"]["checks"]} == {"model"}


def test_without_rules_a_prose_task_has_none():
    assert len(rules_for(PROSE, {"checks": []})) == 3
    with ablation.switched_off("rules"):
        assert rules_for(PROSE, {"checks": []}) == []
    assert len(rules_for(PROSE, {"checks": []})) == 3  # only inside the switch


def test_without_review_an_attempt_passing_every_check_is_approved_with_no_call(scripted):
    context, model = scripted([reply_code(DOUBLE_CODE)])
    with ablation.switched_off("review"):
        out = graph.invoke({"task": DOUBLE}, context=context)
    assert out["status"] == "approved" and len(model.prompts) == 1
    assert out["final"]["verdict"]["score"] == 10


def test_without_review_failing_checks_still_block(scripted):
    wrong = "def double(x):\n    return x + 2\n"
    context, model = scripted([reply_code(wrong)], max_iterations=1)
    with ablation.switched_off("review"):
        out = graph.invoke({"task": DOUBLE}, context=context)
    assert out["status"] == "not_approved" and len(model.prompts) == 1
