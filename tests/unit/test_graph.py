"""The whole graph driven by a scripted model: every route through the loop."""

from __future__ import annotations

import pytest

from codeloop.cli.live import describe
from codeloop.graph import graph
from codeloop.runs.runner import Progress, _apply_update
from codeloop.state import TaskError
from tests.helpers import reply_with_code as reply_code
from tests.helpers import reply_with_tests as reply_tests
from tests.helpers import reply_with_verdict as reply_verdict

ADD = "def add(a, b):\n    return a + b\n"
ADD_BUG = "def add(a, b):\n    return a - b\n"
ADD_TESTS = "def test_small():\n    assert add(1, 2) == 3\n\ndef test_zero():\n    assert add(0, 0) == 0\n"
TASK = "Write add(a, b) returning the sum of two numbers."


def run(context, task: str = TASK) -> dict:
    return graph.invoke({"task": task}, context=context)


def test_approved_at_once(scripted):
    context, model = scripted([reply_code(ADD), reply_tests(ADD_TESTS), reply_verdict(True, 9)])
    out = run(context)
    assert out["status"] == "approved"
    assert len(out["attempts"]) == 1
    assert out["final"]["code"].strip() == ADD.strip()
    report = out["final"]["report"]
    assert (report["status"], report["passed"], report["total"]) == ("passed", 2, 2)
    assert len(model.prompts) == 3  # solution, tests, review


def test_approved_after_a_failing_attempt_with_feedback_in_the_next_prompt(scripted):
    context, model = scripted(
        [reply_code(ADD_BUG), reply_tests(ADD_TESTS), reply_code(ADD), reply_verdict(True, 9)]
    )
    out = run(context)
    assert out["status"] == "approved"
    assert [a["approved"] for a in out["attempts"]] == [False, True]
    assert "verdict" not in out["attempts"][0]  # failing tests: no review paid for
    second_prompt = model.prompts[2][-1].text
    assert "test_small failed" in second_prompt
    assert "assert -1 == 3" in second_prompt  # pytest's own failure message reaches the model
    assert "return a - b" not in second_prompt  # a retry is not anchored on the rejected code
    assert len(model.prompts) == 4  # the tests are written once and reused by the retry
    assert out["attempts"][1]["tests"] == out["attempts"][0]["tests"]


def test_a_rejected_review_reaches_the_next_prompt(scripted):
    context, model = scripted(
        [reply_code(ADD), reply_tests(ADD_TESTS), reply_verdict(False, 3, ["no docstring"]),
         reply_code(ADD), reply_verdict(True, 9)]
    )
    out = run(context)
    assert out["status"] == "approved"
    assert "Reviewer: no docstring" in model.prompts[3][-1].text


def test_a_persons_feedback_comes_with_the_code_it_is_about(scripted):
    from codeloop.prompts import prompt_set

    attempt = {"iteration": 1, "code": "def add(a, b):\n    return a - b\n", "tests": "",
               "parse_error": None, "tokens": {}, "seconds": {}}
    messages = prompt_set("chat").generation(TASK, "", attempt, "use type hints")
    text = messages[-1].text
    assert "return a - b" in text and "A person reviewing the code asks: use type hints" in text


def test_budget_exhausted_returns_best_attempt(scripted):
    half = "def test_small():\n    assert add(1, 2) == 3\n\ndef test_neg():\n    assert add(2, 2) == 5\n"
    context, _ = scripted([reply_code(ADD_BUG), reply_tests(half), reply_code(ADD)], max_iterations=2)
    out = run(context)
    assert out["status"] == "not_approved"
    assert len(out["attempts"]) == 2
    assert out["final"]["iteration"] == 2  # one test passes there, none in the first
    assert out["final"]["report"]["passed"] == 1


def test_failing_tests_are_not_approved_and_not_sent_to_the_reviewer(scripted):
    context, model = scripted(
        [reply_code(ADD_BUG), reply_tests(ADD_TESTS), reply_verdict(True, 10)], max_iterations=1
    )
    out = run(context)
    attempt = out["attempts"][0]
    assert "verdict" not in attempt and len(model.prompts) == 2
    assert attempt["report"]["status"] == "failed"
    assert attempt["approved"] is False
    assert out["status"] == "not_approved"


def test_low_score_is_not_approval(scripted):
    context, _ = scripted(
        [reply_code(ADD), reply_tests(ADD_TESTS), reply_verdict(True, 2)], max_iterations=1
    )
    assert run(context)["status"] == "not_approved"


def test_reply_without_code_is_a_failed_attempt_not_a_crash(scripted):
    context, model = scripted(
        [
            "I am not sure how to do that.", "Sorry.",
            reply_code(ADD), reply_tests(ADD_TESTS), reply_verdict(True, 8),
        ]
    )
    out = run(context)
    first = out["attempts"][0]
    assert first["parse_error"] == "the reply contains no Python code"
    assert first["report"]["status"] == "error"
    assert "verdict" not in first  # nothing to review, no review call
    assert "could not be used: the reply contains no Python code" in model.prompts[2][-1].text
    assert out["status"] == "approved"


def test_truncated_reply_is_salvaged(scripted):
    cut = "```python\nfrom solution import *\n\ndef test_small():\n    assert add(1, 2) == 3\n\ndef test_cut():\n    assert add(1, "
    context, _ = scripted([reply_code(ADD), cut, reply_verdict(True, 8)])
    out = run(context)
    assert out["status"] == "approved"
    assert out["final"]["report"]["total"] == 1


def test_malformed_verdict_is_repaired_once(scripted):
    context, model = scripted(
        [reply_code(ADD), reply_tests(ADD_TESTS), "looks good to me!", reply_verdict(True, 9)]
    )
    out = run(context)
    assert out["status"] == "approved"
    assert "could not be used: the reply contains no JSON object" in model.prompts[3][-1].text


def test_malformed_verdict_twice_is_not_approved_with_reason(scripted):
    context, model = scripted(
        [reply_code(ADD), reply_tests(ADD_TESTS), '{"approved": "yes"}', '{"score": }'],
        max_iterations=1,
    )
    out = run(context)
    attempt = out["attempts"][0]
    assert "could not be used: field score: Field required" in model.prompts[3][-1].text
    assert out["status"] == "not_approved"
    assert "verdict was unusable twice" in attempt["review_error"]
    assert "invalid JSON" in attempt["review_error"]


def test_task_examples_become_tests(scripted):
    task = 'def double(x):\n    """Double x.\n    >>> double(2)\n    4\n    """'
    context, _ = scripted(
        [reply_code("def double(x):\n    return x * 3\n"), "no tests, sorry", reply_verdict(True, 9)],
        max_iterations=1,
    )
    out = run(context, task)
    tests = out["attempts"][0]["report"]["tests"]
    assert [(t["name"], t["outcome"]) for t in tests] == [("test_task_example_1", "failed")]
    assert "assert 6 == 4" in tests[0]["message"]


def test_user_tests_run_with_generated_ones(scripted):
    context, _ = scripted([reply_code(ADD), reply_tests(ADD_TESTS), reply_verdict(True, 9)])
    out = graph.invoke(
        {"task": TASK, "extra_tests": "def test_user():\n    assert add(2, 3) == 5\n"},
        context=context,
    )
    names = [t["name"] for t in out["final"]["report"]["tests"]]
    assert names == ["test_small", "test_zero", "test_user"]


def test_attempt_records_tokens_and_timings(scripted):
    context, _ = scripted([reply_code(ADD), reply_tests(ADD_TESTS), reply_verdict(True, 9)])
    attempt = run(context)["final"]
    assert attempt["tokens"]["completion"] > 0
    assert set(attempt["seconds"]) == {"generate", "tests", "execute", "review"}


def test_best_attempt_trusts_the_tasks_own_tests_and_prefers_the_earliest_on_ties() -> None:
    from codeloop.nodes.finalize import best_attempt

    def attempt(iteration: int, outcomes: dict[str, str], task_tests: list[str]) -> dict:
        tests = [{"name": n, "outcome": o, "message": ""} for n, o in outcomes.items()]
        report = {"status": "failed", "passed": 0, "total": len(tests), "tests": tests}
        return {"iteration": iteration, "report": report, "task_tests": task_tests}

    example = ["test_task_example_1"]
    first = attempt(1, {"test_a": "failed", "test_b": "passed", "test_task_example_1": "passed"}, example)
    second = attempt(2, {"test_a": "passed", "test_b": "passed", "test_task_example_1": "failed"}, example)
    third = attempt(3, {"test_a": "failed", "test_b": "passed", "test_task_example_1": "passed"}, example)
    assert best_attempt([first, second, third])["iteration"] == 1


# A buggy first round its tests reject, then a right one the reviewer approves.
REJECTED_THEN_APPROVED = [
    reply_code(ADD_BUG), reply_tests(ADD_TESTS), reply_code(ADD), reply_verdict(True, 9),
]


def test_retries_sample_at_the_retry_temperature(scripted):
    context, model = scripted(
        REJECTED_THEN_APPROVED,
        retry_temperature=0.7,
    )
    run(context)
    temperatures = [o["temperature"] for o in model.options if "json_schema" not in o]
    assert temperatures == [0.0, 0.0, 0.7]


def test_retry_temperature_zero_keeps_retries_greedy(scripted):
    context, model = scripted(
        REJECTED_THEN_APPROVED,
        retry_temperature=0.0,
    )
    run(context)
    assert {o["temperature"] for o in model.options if "json_schema" not in o} == {0.0}


def test_model_tests_cannot_pass_for_the_tasks_own(scripted):
    task = 'def double(x):\n    """Double x.\n    >>> double(2)\n    4\n    """'
    fake = "def test_task_example_1():\n    assert double(5) == 10\n"
    context, _ = scripted(
        [reply_code("def double(x):\n    return x * 2\n"), reply_tests(fake), reply_verdict(True, 9)],
        max_iterations=1,
    )
    attempt = run(context, task)["attempts"][0]
    names = [t["name"] for t in attempt["report"]["tests"]]
    assert names == ["test_own_example_1", "test_task_example_1"]
    assert attempt["task_tests"] == ["test_task_example_1"]


def test_a_task_over_the_limit_is_refused_before_any_model_call(scripted):
    """Runs over the HTTP API reach the graph without the CLI's checks."""
    context, model = scripted([])
    with pytest.raises(TaskError, match="the task has 10,001 characters; the limit is 10,000"):
        run(context, "x" * 10_001)
    with pytest.raises(TaskError, match="the task is empty"):
        run(context, "  ")
    assert model.prompts == []


DOUBLE_TASK = 'def double(x):\n    """Double x.\n    >>> double(2)\n    4\n    """'
DOUBLE = "def double(x):\n    return x * 2\n"


TWO_EXAMPLES = DOUBLE_TASK.replace('    """', '    >>> double(0)\n    0\n    """')


def test_a_task_with_enough_examples_is_checked_by_them_and_the_review_alone(scripted):
    context, model = scripted([reply_code(DOUBLE), reply_verdict(True, 9)])
    out = run(context, TWO_EXAMPLES)
    assert out["status"] == "approved" and len(model.prompts) == 2  # solution, review
    assert [c["origin"] for c in out["final"]["checks"]] == ["task", "task"]
    assert "model_tests" not in out["final"] or not out["final"]["model_tests"]


def test_with_a_higher_examples_suffice_the_model_writes_tests_too(scripted):
    context, model = scripted([reply_code(DOUBLE), reply_tests("def test_one():\n    assert double(1) == 2\n"),
                               reply_verdict(True, 9)], examples_suffice=3)
    out = run(context, TWO_EXAMPLES)
    assert out["status"] == "approved" and len(model.prompts) == 3  # solution, tests, review
    assert "def test_one" in out["final"]["tests"]


def test_failing_examples_cost_one_call_a_round_no_tests_no_review(scripted):
    wrong = "def double(x):\n    return x * 3\n"
    context, model = scripted([reply_code(wrong), reply_code(wrong)], max_iterations=2)
    out = run(context, DOUBLE_TASK)
    assert out["status"] == "not_approved" and len(model.prompts) == 2
    assert [c["actual"] for c in out["attempts"][0]["checks"]] == ["6"]
    assert "6 == 4" in model.prompts[1][-1].text  # the failing example is the finding


def test_a_wrong_model_test_is_refuted_by_two_attempts_that_pass_the_examples(scripted):
    wrong_test = "def test_big():\n    assert double(5) == 11\n\ndef test_zero():\n    assert double(0) == 0\n"
    context, model = scripted(
        [reply_code(DOUBLE), reply_tests(wrong_test), reply_code(DOUBLE), reply_verdict(True, 9)]
    )
    out = run(context, DOUBLE_TASK)
    first, second = out["attempts"]
    assert not first["approved"] and "verdict" not in first
    refuted = {c["name"] for c in second["checks"] if c.get("refuted")}
    assert refuted == {"test_big"}
    assert second["approved"] and out["status"] == "approved"
    assert "test_big" not in model.prompts[2][-1].text  # a second opinion, from the task alone
    review = model.prompts[3][-1].text
    assert "Test results: passed: 2 of 2 passed." in review  # the refuted test is not counted
    assert "these tests expect wrong values: test_big" in review
    assert "double(5) == 11" not in review and "def test_zero" in review  # nor shown


def test_invented_error_cases_written_in_one_test_are_refuted_and_do_not_block(scripted):
    tests = ("def test_double():\n    assert double(3) == 6\n\n"
             "def test_double_errors():\n    with pytest.raises(ValueError):\n        double(2)\n"
             "    with pytest.raises(ValueError):\n        double(-1)\n")
    context, model = scripted([reply_code(DOUBLE), reply_tests(tests), reply_verdict(True, 9)])
    out = run(context, DOUBLE_TASK)
    (attempt,) = out["attempts"]
    refuted = {c["name"] for c in attempt["checks"] if c.get("refuted")}
    assert refuted == {"test_double_errors_1", "test_double_errors_2"}
    assert attempt["approved"] and out["status"] == "approved" and len(model.prompts) == 3


def test_a_budget_ending_on_a_dispute_with_the_models_tests_gets_one_second_opinion(scripted):
    wrong = "def double(x):\n    return x * 3\n"
    wrong_test = "def test_big():\n    assert double(5) == 11\n\ndef test_zero():\n    assert double(0) == 0\n"
    context, model = scripted(
        [reply_code(wrong), reply_code(DOUBLE), reply_tests(wrong_test), reply_code(DOUBLE),
         reply_verdict(True, 9)],
        max_iterations=2,
    )
    out = run(context, DOUBLE_TASK)
    assert [a["iteration"] for a in out["attempts"]] == [1, 2, 3]
    assert out["status"] == "approved" and out["attempts"][2]["approved"]
    assert "test_big" not in model.prompts[3][-1].text  # written from the task alone


def test_no_second_opinion_past_the_budget_when_one_was_already_given(scripted):
    wrong_test = "def test_big():\n    assert double(5) == 11\n\ndef test_zero():\n    assert double(0) == 0\n"
    other = "def double(x):\n    return 12 if x == 5 else x + x\n"  # a second opinion, not agreeing
    context, model = scripted(
        [reply_code(DOUBLE), reply_tests(wrong_test), reply_code(other)], max_iterations=2
    )
    out = run(context, DOUBLE_TASK)
    assert len(out["attempts"]) == 2 and out["status"] == "not_approved"
    assert len(model.prompts) == 3  # the second attempt was the second opinion: no third


def test_a_budget_of_one_attempt_gets_no_second_opinion(scripted):
    wrong_test = "def test_big():\n    assert double(5) == 11\n\ndef test_zero():\n    assert double(0) == 0\n"
    context, model = scripted([reply_code(DOUBLE), reply_tests(wrong_test)], max_iterations=1)
    out = run(context, DOUBLE_TASK)
    assert len(out["attempts"]) == 1 and out["status"] == "not_approved"
    assert len(model.prompts) == 2


def test_the_progress_line_names_the_attempt_past_the_budget() -> None:
    assert "iteration 3/3 ·" in describe(Progress(iteration=3, max_iterations=3))
    assert "iteration 4/3 (second opinion)" in describe(Progress(iteration=4, max_iterations=3))


def test_the_progress_line_says_a_batch_is_the_last_retry() -> None:
    progress = Progress(iteration=1, max_iterations=3)
    _apply_update(progress, {"generate": {"current": {"iteration": 2, "candidates": [0, 2, 1, 2],
                                                      "last_round": True}}})
    assert "iteration 2/3 (best of 4, the last retry) ·" in describe(progress)
    _apply_update(progress, {"generate": {"current": {"iteration": 3, "candidates": [1, 1],
                                                      "last_round": False}}})
    assert "iteration 3/3 (best of 2) ·" in describe(progress)
    _apply_update(progress, {"generate": {"current": {"iteration": 4}}})
    assert "iteration 4/3 (second opinion) ·" in describe(progress)
