"""The starcoder prompt family, and the whole loop driven by completion-style replies."""

from __future__ import annotations

import ast

from langchain_core.messages import AIMessage

from codeloop.graph import graph
from codeloop.models.scripted import ScriptedChatModel
from codeloop.models.tgi_request import completion_prompt
from codeloop.prompts import FAMILIES, prompt_set, trim_rank
from codeloop.prompts.starcoder import TESTS_START, StarCoderPrompts, comment
from tests.helpers import ScriptedContext, reply_with_verdict

TASK = 'Write add(a, b) returning the sum.\n\n"""Quotes""" and # hashes are fine.'
PREVIOUS = {
    "iteration": 1,
    "code": "def add(a, b):\n    return a - b\n",
    "tests": "from solution import *\n\ndef test_small():\n    assert add(1, 2) == 3\n",
    "parse_error": None,
    "report": {
        "status": "failed", "passed": 0, "failed": 1, "total": 1, "detail": "",
        "tests": [{"name": "test_small", "outcome": "failed", "message": "assert -1 == 3"}],
        "duration": 0.1, "isolation": "process",
    },
    "verdict": {"approved": False, "score": 2, "issues": ["it subtracts"], "suggestions": []},
}


class ScriptedStarCoder(ScriptedChatModel):
    """A scripted model that declares the starcoder family, as the TGI model does."""

    prompt_family: str = "starcoder"


def test_family_is_registered_and_its_stops_fit_tgi():
    assert "starcoder" in FAMILIES
    prompts = prompt_set("starcoder")
    assert isinstance(prompts, StarCoderPrompts)
    assert 1 <= len(prompts.stop) <= 4


def test_the_task_becomes_comments_so_any_text_is_safe_in_the_file():
    prompt, _ = completion_prompt(StarCoderPrompts().generation(TASK, "", None, None))
    assert prompt.startswith("<filename>solution.py\n")
    assert '# """Quotes""" and # hashes are fine.' in prompt
    ast.parse(prompt.removeprefix("<filename>solution.py\n"))  # only comments so far
    assert prompt.endswith("# The complete solution:\n\n\n")


def test_feedback_shows_previous_attempt_and_findings_all_droppable():
    messages = StarCoderPrompts().generation(TASK, "no imports", PREVIOUS, "use +")
    prompt, _ = completion_prompt(messages)
    assert "# Constraints:\n# no imports" in prompt
    assert "#         return a - b" in prompt
    assert "#     assert -1 == 3" in prompt
    assert "# - Reviewer: it subtracts" in prompt
    assert "# - A person reviewing the code asks: use +" in prompt
    assert prompt.endswith("# The complete corrected solution:\n\n\n")
    ranks = [trim_rank(m) for m in messages]
    assert ranks[0] is None and ranks[-1] is None  # the task and the start: never dropped
    assert sorted(r for r in ranks if r is not None) == [1, 2, 3]


def test_tests_continue_the_file_from_a_given_start():
    prompts = StarCoderPrompts()
    generation = prompts.generation(TASK, "", None, None)
    messages = prompts.test_writing(generation, "def add(a, b):\n    return a + b\n")
    prompt, prefix = completion_prompt(messages)
    assert prefix == TESTS_START and isinstance(messages[-1], AIMessage)
    assert "return a + b\n\n\n# Tests, run with pytest" in prompt
    assert prompt.endswith("\n\n\ndef test_")


def test_review_ends_where_the_json_verdict_begins_and_repair_reopens_it():
    prompts = StarCoderPrompts()
    messages = prompts.review(TASK, PREVIOUS)
    prompt, _ = completion_prompt(messages)
    assert "return a - b" in prompt and "assert -1 == 3" in prompt
    assert prompt.endswith("```json\n")
    assert [trim_rank(m) for m in messages] == [None, 1, None]  # only the tests may go
    assert prompts.repair("invalid JSON").text.endswith("```json\n")


def test_comment_indents_and_keeps_blank_lines():
    assert comment("a\n\n  b", indent=2) == "#   a\n#\n#     b"


def test_the_loop_approves_with_completion_style_replies():
    """Raw code (no fences), tests continued from `def test_`, a bare JSON verdict."""
    tests = (
        "def test_small():\n    assert add(1, 2) == 3\n\n\n"
        "def test_zero():\n    assert add(0, 0) == 0\n"
    )
    model = ScriptedStarCoder(
        script=["def add(a, b):\n    return a + b\n", tests, reply_with_verdict(True, 9)]
    )
    out = graph.invoke({"task": "Write add(a, b)."}, context=ScriptedContext(scripted=model))
    assert out["status"] == "approved"
    assert out["final"]["report"]["passed"] == 2
    assert completion_prompt(model.prompts[1])[1] == TESTS_START
    assert completion_prompt(model.prompts[2])[0].startswith("<filename>REVIEW.md")


def test_stated_rules_are_listed_and_the_tests_start_at_the_first_rule_wanted():
    prompts = StarCoderPrompts()
    generation = prompts.generation(TASK, "", None, None)
    rules = ["Return the sum.", "Negative numbers are allowed."]
    prompt, prefix = completion_prompt(
        prompts.test_writing(generation, "def add(a, b):\n    return a + b\n", rules))
    assert "# One test per rule the task states:\n# 1. Return the sum.\n" in prompt
    assert prefix == "def test_rule_1_"
    _, prefix = completion_prompt(prompts.test_writing(generation, "x = 1\n", rules, missing=[2]))
    assert prefix == "def test_rule_2_"
    review, _ = completion_prompt(prompts.review(TASK, PREVIOUS, rules))
    assert "## Rules the task states\n\n1. Return the sum.\n2. Negative numbers" in review
