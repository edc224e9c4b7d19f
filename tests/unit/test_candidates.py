"""Several solutions per retry, the attempt being the one passing most of the task's checks."""

from __future__ import annotations

import pytest

from codeloop.cli import build_parser
from codeloop.cli.options import context_from
from codeloop.context import Context
from codeloop.graph import graph
from codeloop.models.scripted import ScriptedChatModel
from codeloop.nodes.candidates import candidate_count
from tests.helpers import ScriptedContext
from tests.helpers import reply_with_code as reply_code
from tests.helpers import reply_with_tests as reply_tests
from tests.helpers import reply_with_verdict as reply_verdict
from tests.unit.test_tracing import Recorder

TASK = ('def double(x):\n    """Double x.\n    >>> double(2)\n    4\n'
        '    >>> double(0)\n    0\n    """\n')
WRONG = reply_code("def double(x):\n    return x * 3\n")
HALF_RIGHT = reply_code("def double(x):\n    return x + 2\n")  # right for 2, wrong for 0
RIGHT = reply_code("def double(x):\n    return 2 * x\n")


def run(model: ScriptedChatModel, task: str = TASK, **settings: object) -> dict:
    settings = {"max_iterations": 2, "retry_candidates": 3, **settings}
    context = ScriptedContext(scripted=model, **settings)
    return graph.invoke({"task": task}, context=context)


def test_a_retry_keeps_the_candidate_passing_most_of_the_tasks_examples() -> None:
    model = ScriptedChatModel(script=[WRONG, HALF_RIGHT, RIGHT, WRONG, reply_verdict(True, 9)],
                              writes_candidates=True)
    out = run(model)
    first, retry = out["attempts"]
    assert "candidates" not in first  # the first attempt is asked once, as a single call is
    assert retry["candidates"] == [1, 2, 1]  # x * 3 is right for 0
    assert "2 * x" in retry["code"] and out["status"] == "approved"
    # one request for the three, each reply with a seed of its own
    assert model.prompts[1] == model.prompts[2] == model.prompts[3]
    assert [o["seed"] for o in model.options[1:4]] == [1, 2, 3]
    assert {o["temperature"] for o in model.options[1:4]} == {0.7}  # sampled as a retry is
    written = (HALF_RIGHT, RIGHT, WRONG, reply_verdict(True, 9))  # every candidate counts
    assert retry["tokens"]["completion"] == sum(len(r.split()) for r in written)


def test_on_a_tie_the_first_candidate_is_kept() -> None:
    model = ScriptedChatModel(script=[WRONG, WRONG, RIGHT, RIGHT.replace("2 * x", "x + x"),
                                      reply_verdict(True, 9)], writes_candidates=True)
    out = run(model)
    assert out["attempts"][1]["candidates"] == [1, 2, 2]
    assert "2 * x" in out["attempts"][1]["code"]


ONE_EXAMPLE = 'def double(x):\n    """Double x.\n    >>> double(2)\n    4\n    """\n'
WRONG_TEST = "def test_big():\n    assert double(5) == 11\n\ndef test_zero():\n    assert double(0) == 0\n"


def test_a_second_opinion_keeps_the_candidate_passing_the_examples_and_settles_the_dispute() -> None:
    """The first attempt is right; only a wrong model test disputes it. Of the opinion's
    candidates the first fails the example (alone it would have settled nothing); the
    second passes it and agrees with the first attempt, so the wrong test is refuted."""
    model = ScriptedChatModel(
        script=[RIGHT, reply_tests(WRONG_TEST), WRONG, RIGHT.replace("2 * x", "x + x"), WRONG,
                reply_verdict(True, 9)], writes_candidates=True)
    out = run(model, ONE_EXAMPLE, retry_candidates=1, opinion_candidates=3)
    first, opinion = out["attempts"]
    assert not first["approved"] and opinion["candidates"] == [0, 1, 0]
    assert "x + x" in opinion["code"]
    assert {c["name"] for c in opinion["checks"] if c.get("refuted")} == {"test_big"}
    assert out["status"] == "approved"
    assert "test_big" not in model.prompts[2][-1].text  # still written from the task alone


def test_a_second_opinion_writes_one_when_set_to() -> None:
    model = ScriptedChatModel(script=[RIGHT, reply_tests(WRONG_TEST), RIGHT, reply_verdict(True, 9)],
                              writes_candidates=True)
    out = run(model, ONE_EXAMPLE, retry_candidates=3, opinion_candidates=1)
    assert "candidates" not in out["attempts"][1] and out["status"] == "approved"


def test_a_batch_is_the_last_retry_however_many_rounds_are_left() -> None:
    model = ScriptedChatModel(script=[WRONG, WRONG, HALF_RIGHT], writes_candidates=True)
    out = run(model, max_iterations=5, retry_candidates=2)
    assert [a["iteration"] for a in out["attempts"]] == [1, 2]
    assert out["attempts"][1]["last_round"] and out["status"] != "approved"
    assert len(model.prompts) == 3  # no review is asked of code failing the examples


def test_a_dispute_left_by_a_batch_still_gets_its_second_opinion() -> None:
    """The batch's best passes the one example; only a wrong model test blocks it."""
    model = ScriptedChatModel(
        script=[WRONG, WRONG, RIGHT, reply_tests(WRONG_TEST), RIGHT.replace("2 * x", "x + x"),
                reply_verdict(True, 9)], writes_candidates=True)
    out = run(model, ONE_EXAMPLE, max_iterations=5, retry_candidates=2, opinion_candidates=1)
    _, batch, opinion = out["attempts"]
    assert batch["candidates"] == [0, 1] and not opinion.get("last_round")
    assert out["status"] == "approved" and "x + x" in opinion["code"]


def test_one_solution_a_round_keeps_every_round() -> None:
    model = ScriptedChatModel(script=[WRONG, WRONG, HALF_RIGHT])
    out = run(model, max_iterations=3, retry_candidates=4)
    assert [a["iteration"] for a in out["attempts"]] == [1, 2, 3]
    assert not any(a.get("last_round") for a in out["attempts"])


def test_a_model_that_writes_one_reply_is_asked_once() -> None:
    model = ScriptedChatModel(script=[WRONG, RIGHT, reply_verdict(True, 9)])
    out = run(model)
    assert len(model.prompts) == 3 and "candidates" not in out["attempts"][1]
    assert out["status"] == "approved"


def test_a_retry_with_nothing_to_choose_by_writes_one() -> None:
    """No examples, no user tests: the candidates could only be chosen blindly."""
    model = ScriptedChatModel(script=[], writes_candidates=True)
    context = Context(retry_candidates=3)
    model_check = {"name": "test_a", "call": "double(1)", "expected": "2", "origin": "model",
                   "outcome": "failed", "actual": "1"}
    task_check = {**model_check, "name": "test_task_example_1", "origin": "task"}
    assert candidate_count(context, model, {"checks": [model_check]}) == 1  # type: ignore[typeddict-item]
    assert candidate_count(context, model, {"checks": [task_check]}) == 3  # type: ignore[typeddict-item]
    assert candidate_count(context, model, None) == 1  # the first attempt


@pytest.mark.parametrize("count", [0, 9])
@pytest.mark.parametrize("name", ["retry_candidates", "opinion_candidates"])
def test_a_count_out_of_range_is_refused_in_one_line(name: str, count: int) -> None:
    with pytest.raises(ValueError, match=f"{name} must be 1-8, got {count}"):
        Context(**{name: count})


def test_the_cli_option_reaches_the_context() -> None:
    args = build_parser().parse_args(["eval", "humaneval", "--retry-candidates", "2"])
    assert context_from(args).retry_candidates == 2
    assert context_from(build_parser().parse_args(["eval", "humaneval"])).retry_candidates == 4
    args = build_parser().parse_args(["run", "task.py", "--opinion-candidates", "1"])
    assert context_from(args).opinion_candidates == 1


class RunRecorder(Recorder):
    """Also keeps each run's id, to tell which node a model call ran under."""

    def _keep(self, kind: str, kwargs: dict) -> None:
        super()._keep(kind, kwargs)
        self.runs[-1]["id"] = kwargs.get("run_id")


def test_the_candidates_call_is_traced_under_the_generate_node() -> None:
    recorder = RunRecorder()
    model = ScriptedChatModel(script=[WRONG, HALF_RIGHT, RIGHT, reply_verdict(True, 9)],
                              writes_candidates=True)
    context = ScriptedContext(scripted=model, max_iterations=2, retry_candidates=2)
    graph.invoke({"task": TASK}, context=context, config={"callbacks": [recorder]})
    generates = [run["id"] for run in recorder.runs
                 if run["kind"] == "chain" and run["name"] == "generate"]
    calls = [run for run in recorder.runs if run["kind"] == "llm"]
    assert [run["name"] for run in calls] == ["solution #1", "solution #2", "verdict #2"]
    assert calls[1]["tags"][-2:] == ["iteration:2", "step:solution"]
    assert calls[1]["parent"] == generates[1]
