"""human_review: a person approves, rejects, or sends feedback for another iteration.

Runs instead of finalize when the run's Context has `human_review` set. The graph pauses
with `interrupt()`, showing the attempt the loop would hand back (the machine-approved
one, else the best by finalize's rule: `best_attempt`) with its code, tests, test report
and verdict, and, when that is not the latest attempt, the latest one too. The answer
that resumes it decides what happens next:

- approve: the run ends with status `approved` and the attempt shown as `final`, marked
  `human_approved`. The person's word is final: approving an attempt the machine did not
  approve (failing tests, low score) still approves it; its own `approved` flag keeps the
  machine's judgement, so the override stays visible.
- reject (or "finish"): the run ends with status `not_approved` and the same attempt as
  `final`, the best one there is: a person can say no, even to what the machine approved.
- feedback text: the text goes to generate as `human_feedback` (shown to the model first
  among the findings, with the latest attempt's code) and buys exactly one more iteration,
  even past `max_iterations`: the budget caps the automatic loop, not a person's request.
  The new attempt comes back here once the loop would otherwise finalize.

An answer that is none of these is asked again (a new interrupt naming the problem);
nothing of the run is lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from langgraph.types import Command, interrupt
from pydantic import BaseModel, Field, ValidationError, field_validator

from codeloop.nodes.finalize import best_attempt
from codeloop.state import Attempt, State

APPROVE_WORDS = frozenset({"approve", "approved"})
REJECT_WORDS = frozenset({"reject", "rejected", "finish"})
QUESTION = (
    "Approve this attempt, reject it (the run ends not approved with it), or send feedback "
    "for another iteration."
)
Decision = Literal["approve", "reject", "feedback"]


class HumanAnswer(BaseModel):
    """Approve: {"action": "approve"}. End not approved: {"action": "reject"}.

    Another iteration: {"action": "feedback", "feedback": "what to change"}.
    """

    action: Decision = Field(description="approve, reject (end not approved), or feedback.")
    feedback: str | None = Field(default=None, description="What to change (for action feedback).")

    @field_validator("action", mode="before")
    @classmethod
    def _spelling(cls, value: object) -> object:
        """Any case and spacing; "approved" means approve, "finish" means reject."""
        if not isinstance(value, str):
            return value
        word = value.strip().lower()
        if word in APPROVE_WORDS:
            return "approve"
        return "reject" if word in REJECT_WORDS else word


# Shown to clients that render a form for the answer (LangGraph Studio does).
ANSWER_SCHEMA: dict[str, Any] = HumanAnswer.model_json_schema()


@dataclass(frozen=True)
class Answer:
    """A person's decision; `feedback` is the text when the decision is feedback."""

    decision: Decision = "approve"
    feedback: str | None = None

    @property
    def approved(self) -> bool:
        """True when the person approved the attempt."""
        return self.decision == "approve"


def human_review(state: State) -> Command[Literal["generate", "__end__"]]:
    """Pause for a person's decision, then end (approved or not) or iterate again."""
    latest = state["current"]
    candidate = hand_back(state.get("attempts") or [latest])
    answer = _ask(candidate, latest)
    if answer.decision == "approve":
        final: Attempt = {**candidate, "human_approved": True}
        return Command(goto="__end__", update={"status": "approved", "final": final})
    if answer.decision == "reject":
        return Command(goto="__end__", update={"status": "not_approved", "final": candidate})
    return Command(goto="generate", update={"human_feedback": answer.feedback})


def hand_back(attempts: list[Attempt]) -> Attempt:
    """The attempt the loop would end with: the last machine-approved one, else the best."""
    approved = [a for a in attempts if a.get("approved")]
    best = approved[-1] if approved else best_attempt(attempts)
    assert best is not None, "human review runs after at least one attempt"
    return best


def _ask(candidate: Attempt, latest: Attempt) -> Answer:
    """Interrupt until the person gives a usable answer."""
    problem = None
    while True:
        reply = interrupt(shown(candidate, problem, latest), response_schema=ANSWER_SCHEMA)
        answer, problem = parse_answer(reply)
        if answer is not None:
            return answer


def shown(
    attempt: Attempt, problem: str | None = None, latest: Attempt | None = None
) -> dict[str, Any]:
    """Build the interrupt's payload: the attempt handed back, how it was judged, how to answer.

    `latest` is the run's latest attempt; when it is another one, it is shown under
    `latest`, since feedback starts the next attempt from it.
    """
    latest = latest or attempt
    payload: dict[str, Any] = {
        "question": QUESTION,
        "answer_with": ANSWER_SCHEMA["description"],
        "hands_back": _which(attempt, latest),
        **_described(attempt),
        "latest_iteration": latest["iteration"],
    }
    if latest["iteration"] != attempt["iteration"]:
        payload["latest"] = _described(latest)
    if problem:
        payload["answer_problem"] = problem
    return payload


def _which(attempt: Attempt, latest: Attempt) -> str:
    """Say which attempt approve or reject ends the run with, and why that one."""
    if attempt["iteration"] == latest["iteration"]:
        return f"attempt {attempt['iteration']}, the latest"
    return (f"attempt {attempt['iteration']} of {latest['iteration']}: the best so far "
            "(most of the task's own checks passed)")


def _described(attempt: Attempt) -> dict[str, Any]:
    return {
        "iteration": attempt["iteration"],
        "machine_approved": bool(attempt.get("approved")),
        "code": attempt["code"],
        "tests": attempt["tests"],
        "report": attempt.get("report"),
        "verdict": attempt.get("verdict"),
        "problems": [p for p in (attempt["parse_error"], attempt.get("review_error")) if p],
    }


def parse_answer(reply: object) -> tuple[Answer | None, str | None]:
    """Read a resume value: {"action": ...} or a plain string ("approve", "reject", else feedback).

    Returns the answer, or None and a one-line reason the reply could not be used.
    """
    if isinstance(reply, str):
        text = reply.strip()
        if text.lower() in APPROVE_WORDS:
            return Answer(), None
        if text.lower() in REJECT_WORDS:
            return Answer("reject"), None
        return (Answer("feedback", text), None) if text else (None, "the answer was empty")
    if not isinstance(reply, dict):
        return None, f"expected an object or a string, got {type(reply).__name__}"
    try:
        answer = HumanAnswer.model_validate(reply)
    except ValidationError as exc:
        if exc.errors()[0]["loc"][0] == "feedback":
            return None, "feedback must be text"
        return None, (f"unknown action {reply.get('action')!r}: use 'approve', 'reject' or "
                      "'feedback'")
    if answer.action != "feedback":
        return Answer(answer.action), None
    text = (answer.feedback or "").strip()
    return (Answer("feedback", text), None) if text else (None, "feedback needs some text")
