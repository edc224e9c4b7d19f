"""Human review: the graph pauses before finalize; a person approves, rejects or sends feedback."""

from __future__ import annotations

import uuid

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from codeloop.graph import build_graph
from codeloop.nodes.human_review import ANSWER_SCHEMA, Answer, parse_answer
from tests.helpers import reply_with_code as reply_code
from tests.helpers import reply_with_tests as reply_tests
from tests.helpers import reply_with_verdict as reply_verdict

ADD = "def add(a, b):\n    return a + b\n"
ADD_BUG = "def add(a, b):\n    return a - b\n"
ADD_TESTS = "def test_small():\n    assert add(1, 2) == 3\n"
ZERO_TEST = "\n\ndef test_zero():\n    assert add(0, 0) == 0\n"
TASK = "Write add(a, b) returning the sum of two numbers."
GOOD_ROUND = [reply_code(ADD), reply_tests(ADD_TESTS), reply_verdict(True, 9)]
BAD_ROUND = [reply_code(ADD_BUG), reply_tests(ADD_TESTS), reply_verdict(False, 2, ["subtracts"])]


class Session:
    """One thread of a checkpointed graph: start it, resume it, read its state."""

    def __init__(self, context) -> None:
        self.graph = build_graph(checkpointer=InMemorySaver())
        self.context = context
        self.config = {"configurable": {"thread_id": str(uuid.uuid4())}}

    def start(self) -> dict:
        return self.graph.invoke({"task": TASK}, self.config, context=self.context)

    def resume(self, answer: object) -> dict:
        return self.graph.invoke(Command(resume=answer), self.config, context=self.context)

    def pending(self) -> dict:
        """The value of the one open interrupt."""
        state = self.graph.get_state(self.config)
        assert state.next == ("human_review",)
        (interrupt,) = state.interrupts
        return interrupt.value


def test_pauses_before_finalize_showing_code_tests_and_verdict(scripted):
    context, _ = scripted(GOOD_ROUND, human_review=True)
    session = Session(context)
    out = session.start()
    assert "status" not in out  # not finalized: waiting for the person
    shown = session.pending()
    assert shown["code"].strip() == ADD.strip()
    assert "def test_small" in shown["tests"]
    assert shown["verdict"]["score"] == 9
    assert shown["report"]["status"] == "passed"
    assert shown["machine_approved"] is True
    assert shown["iteration"] == 1


def test_approve_ends_the_run_approved_without_another_model_call(scripted):
    context, model = scripted(GOOD_ROUND, human_review=True)
    session = Session(context)
    session.start()
    out = session.resume({"action": "approve"})
    assert out["status"] == "approved"
    assert out["final"]["human_approved"] is True
    assert out["final"]["code"].strip() == ADD.strip()
    assert len(model.prompts) == 3
    assert session.graph.get_state(session.config).next == ()


def test_feedback_runs_another_iteration_past_the_budget_with_the_feedback_first(scripted):
    context, model = scripted(GOOD_ROUND + GOOD_ROUND, human_review=True, max_iterations=1)
    session = Session(context)
    session.start()
    session.resume({"action": "feedback", "feedback": "Add a docstring."})
    prompt = model.prompts[3][-1].text
    findings = prompt.split("What went wrong:")[1]
    assert findings.lstrip().startswith("- A person reviewing the code asks: Add a docstring.")
    shown = session.pending()  # the new attempt comes back to the person
    assert shown["iteration"] == 2
    assert session.graph.get_state(session.config).values["human_feedback"] is None
    out = session.resume("approve")
    assert out["status"] == "approved"
    assert out["final"]["iteration"] == 2
    assert len(out["attempts"]) == 2


def test_human_approval_overrides_a_rejected_attempt_and_keeps_the_machine_verdict(scripted):
    context, _ = scripted(BAD_ROUND, human_review=True, max_iterations=1)
    session = Session(context)
    session.start()
    assert session.pending()["machine_approved"] is False
    out = session.resume("approved")
    assert out["status"] == "approved"
    assert out["final"]["approved"] is False  # the machine's judgement stays on record
    assert out["final"]["human_approved"] is True
    assert out["final"]["report"]["status"] == "failed"


def test_a_rejected_attempt_within_budget_loops_without_asking(scripted):
    # the bad round's tests fail: no review; the good round reuses the tests
    script = [reply_code(ADD_BUG), reply_tests(ADD_TESTS), reply_code(ADD), reply_verdict(True, 9)]
    context, model = scripted(script, human_review=True, max_iterations=3)
    session = Session(context)
    session.start()
    assert session.pending()["iteration"] == 2  # the person sees the approved second attempt
    assert len(model.prompts) == 4


def test_an_unusable_answer_is_asked_again_and_loses_nothing(scripted):
    context, model = scripted(GOOD_ROUND, human_review=True)
    session = Session(context)
    session.start()
    session.resume({"action": "merge"})
    shown = session.pending()
    assert "unknown action 'merge'" in shown["answer_problem"]
    assert shown["code"].strip() == ADD.strip()
    out = session.resume({"action": "approve"})
    assert out["status"] == "approved"
    assert len(model.prompts) == 3


def test_reject_ends_the_run_not_approved_with_the_attempt_shown(scripted):
    context, model = scripted(GOOD_ROUND, human_review=True)
    session = Session(context)
    session.start()
    assert session.pending()["machine_approved"] is True  # a person may still say no
    out = session.resume({"action": "reject"})
    assert out["status"] == "not_approved"
    assert out["final"]["code"].strip() == ADD.strip()
    assert "human_approved" not in out["final"]
    assert len(model.prompts) == 3  # no further model call
    assert session.graph.get_state(session.config).next == ()


# Attempt 1 passes one of the two tests; attempt 2 is a reply with no code at all.
WORSE_LATER = [reply_code(ADD_BUG), reply_tests(ADD_TESTS + ZERO_TEST), "I cannot help with that."]


def test_the_person_is_shown_the_best_attempt_and_the_latest_beside_it(scripted):
    context, _ = scripted(WORSE_LATER, human_review=True, max_iterations=2)
    session = Session(context)
    session.start()
    shown = session.pending()
    assert (shown["iteration"], shown["latest_iteration"]) == (1, 2)
    assert shown["code"].strip() == ADD_BUG.strip()
    assert shown["report"]["passed"] == 1
    assert shown["hands_back"].startswith("attempt 1 of 2: the best so far")
    assert shown["latest"]["iteration"] == 2 and shown["latest"]["problems"]


@pytest.mark.parametrize(("answer", "status"), [("reject", "not_approved"), ("approve", "approved")])
def test_approve_and_reject_end_with_the_best_attempt_not_the_latest(scripted, answer, status):
    context, _ = scripted(WORSE_LATER, human_review=True, max_iterations=2)
    session = Session(context)
    session.start()
    out = session.resume(answer)
    assert out["status"] == status
    assert out["final"]["iteration"] == 1
    assert out["final"]["code"].strip() == ADD_BUG.strip()
    assert out["final"].get("human_approved", False) is (answer == "approve")


def test_the_answer_schema_offers_the_three_decisions():
    assert ANSWER_SCHEMA["properties"]["action"]["enum"] == ["approve", "reject", "feedback"]
    assert "reject" in ANSWER_SCHEMA["description"]


def test_without_the_flag_the_run_finalizes_without_pausing(scripted):
    context, _ = scripted(GOOD_ROUND)
    session = Session(context)
    out = session.start()
    assert out["status"] == "approved"
    assert "human_approved" not in out["final"]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("approve", Answer()),
        ("  Approved ", Answer()),
        ({"action": "approve"}, Answer()),
        ({"action": "APPROVE", "feedback": "ignored"}, Answer()),
        ("handle n = 0", Answer("feedback", "handle n = 0")),
        ({"action": "feedback", "feedback": " use a loop "}, Answer("feedback", "use a loop")),
        ("reject", Answer("reject")),
        (" Finish ", Answer("reject")),
        ({"action": "reject"}, Answer("reject")),
        ({"action": "finish", "feedback": "ignored"}, Answer("reject")),
    ],
)
def test_parse_answer_accepts(reply, expected):
    assert parse_answer(reply) == (expected, None)


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        ("", "the answer was empty"),
        ({"action": "feedback"}, "feedback needs some text"),
        ({"action": "feedback", "feedback": "  "}, "feedback needs some text"),
        ({}, "unknown action None"),
        ({"action": "merge"}, "unknown action 'merge': use 'approve', 'reject' or 'feedback'"),
        (42, "expected an object or a string, got int"),
        (None, "expected an object or a string, got NoneType"),
    ],
)
def test_parse_answer_rejects_with_a_reason(reply, problem):
    answer, reason = parse_answer(reply)
    assert answer is None
    assert reason is not None and reason.startswith(problem)
