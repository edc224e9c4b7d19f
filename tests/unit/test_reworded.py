"""Retries that ask the task again, greedily, in another wording (`reworded_retries`)."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from codeloop.cli import build_parser
from codeloop.cli.options import context_from
from codeloop.context import Context
from codeloop.graph import graph
from codeloop.models.scripted import ScriptedChatModel
from codeloop.nodes.extract import begun_solution
from codeloop.prompts import prompt_set
from tests.helpers import ScriptedContext
from tests.helpers import reply_with_code as reply_code
from tests.helpers import reply_with_tests as reply_tests
from tests.helpers import reply_with_verdict as reply_verdict

TASK = ('def double(x):\n    """Double x.\n    >>> double(2)\n    4\n'
        '    >>> double(0)\n    0\n    """\n')
WRONG = reply_code("def double(x):\n    return x * 3\n")
RIGHT = reply_code("def double(x):\n    return 2 * x\n")


def run(model: ScriptedChatModel, task: str = TASK, **settings: object) -> dict:
    settings = {"max_iterations": 3, "reworded_retries": 2, **settings}
    return graph.invoke({"task": task}, context=ScriptedContext(scripted=model, **settings))


def test_retries_ask_the_task_in_each_other_wording_greedily_then_sample_with_findings() -> None:
    model = ScriptedChatModel(script=[WRONG, WRONG, WRONG, RIGHT, reply_verdict(True, 9)])
    out = run(model, max_iterations=4)
    first, second, third, fourth = model.prompts[:4]
    assert "Complete the following Python code" in second[-1].text
    assert "Write a Python program" in third[-1].text
    assert isinstance(third[0], SystemMessage) and third[0].text != first[0].text
    for reworded in (second, third):  # the task alone, not the findings on the last attempt
        assert TASK.strip() in reworded[-1].text and "6 == 4" not in reworded[-1].text
    assert "6 == 4" in fourth[-1].text  # then a retry as before
    assert [o["temperature"] for o in model.options[:4]] == [0.0, 0.0, 0.0, 0.7]
    assert out["status"] == "approved" and len(out["attempts"]) == 4


def test_a_model_that_continues_replies_writes_the_body_of_a_reworded_retry() -> None:
    body = "    return x * 2\n```\n"
    model = ScriptedChatModel(script=[WRONG, body, reply_verdict(True, 9)], continues_replies=True)
    out = run(model, reworded_retries=1)
    asked = model.prompts[1]
    assert isinstance(asked[-1], AIMessage) and asked[-1].text == begun_solution(TASK)
    assert isinstance(asked[-2], HumanMessage) and "Complete the following" in asked[-2].text
    assert out["status"] == "approved"


def test_a_task_with_nothing_trusted_retries_with_its_findings() -> None:
    """No examples: the model's tests alone would judge the new wording's solution."""
    task = "Write a function double(x) that returns twice x."
    test = "def test_two():\n    assert double(2) == 4\n"
    model = ScriptedChatModel(script=[RIGHT, reply_tests(test), reply_verdict(False, 3), RIGHT,
                                      reply_verdict(True, 9)])
    out = run(model, task, max_iterations=2)
    assert "Complete the following" not in model.prompts[3][-1].text
    assert model.options[3]["temperature"] == 0.7 and out["status"] == "approved"


def test_a_second_opinion_keeps_its_own_request() -> None:
    task = 'def double(x):\n    """Double x.\n    >>> double(2)\n    4\n    """\n'
    wrong_test = "def test_big():\n    assert double(5) == 11\n"
    model = ScriptedChatModel(script=[RIGHT, reply_tests(wrong_test), RIGHT, reply_verdict(True, 9)])
    out = run(model, task, max_iterations=2)
    assert "Complete the following" not in model.prompts[2][-1].text
    assert model.options[2]["temperature"] == 0.7 and out["status"] == "approved"


def test_zero_keeps_every_retry_as_before() -> None:
    model = ScriptedChatModel(script=[WRONG, RIGHT, reply_verdict(True, 9)])
    run(model, reworded_retries=0)
    assert "6 == 4" in model.prompts[1][-1].text and model.options[1]["temperature"] == 0.7


def test_a_completion_prompt_has_no_other_wording() -> None:
    assert prompt_set("starcoder").reworded(TASK, 1) is None
    assert prompt_set("chat").reworded(TASK, 3) is None


@pytest.mark.parametrize("count", [-1, 3])
def test_a_count_out_of_range_is_refused_in_one_line(count: int) -> None:
    with pytest.raises(ValueError, match=f"reworded_retries must be 0-2, got {count}"):
        Context(reworded_retries=count)


def test_the_cli_option_reaches_the_context() -> None:
    args = build_parser().parse_args(["eval", "humaneval", "--reworded-retries", "1"])
    assert context_from(args).reworded_retries == 1
