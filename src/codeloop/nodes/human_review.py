"""human_review: a person approves the attempt, or sends feedback for another iteration.

Runs instead of finalize when the run's Context has `human_review` set. The graph pauses
with `interrupt()`, showing the latest attempt (code, tests, test report and verdict);
the answer that resumes it decides what happens next:

- approve: the run ends with status `approved` and that attempt as `final`, marked
  `human_approved`. The person's word is final: approving an attempt the machine did
  not approve (failing tests, low score) still approves it; its own `approved` flag keeps
  the machine's judgement, so the override stays visible.
- feedback text: the text goes to generate as `human_feedback` (shown to the model first
  among the findings) and buys exactly one more iteration, even past `max_iterations`:
  the budget caps the automatic loop, not a person's request. The new attempt comes back
  here once the loop would otherwise finalize.

An answer that is neither is asked again (a new interrupt naming the problem); nothing
of the run is lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from langgraph.types import Command, interrupt
from pydantic import BaseModel, Field, ValidationError, field_validator

from codeloop.state import Attempt, State

APPROVE_WORDS = frozenset({"approve", "approved"})
QUESTION = "Approve this attempt, or send feedback for another iteration."


class HumanAnswer(BaseModel):
    """Approve: {"action": "approve"}.

    Another iteration: {"action": "feedback", "feedback": "what to change"}.
    """

    action: Literal["approve", "feedback"]
    feedback: str | None = Field(default=None, description="What to change (for action feedback).")

    @field_validator("action", mode="before")
    @classmethod
    def _spelling(cls, value: object) -> object:
        """Any case and spacing; "approved" means approve."""
        if not isinstance(value, str):
            return value
        word = value.strip().lower()
        return "approve" if word in APPROVE_WORDS else word


# Shown to clients that render a form for the answer (LangGraph Studio does).
ANSWER_SCHEMA: dict[str, Any] = HumanAnswer.model_json_schema()


@dataclass(frozen=True)
class Answer:
    """A person's decision: approve (feedback None) or another iteration with feedback."""

    feedback: str | None = None

    @property
    def approved(self) -> bool:
        """True when the person approved the attempt."""
        return self.feedback is None


def human_review(state: State) -> Command[Literal["generate", "__end__"]]:
    """Pause for a person's decision on the latest attempt, then end or iterate again."""
    attempt = state["current"]
    answer = _ask(attempt)
    if answer.approved:
        final: Attempt = {**attempt, "human_approved": True}
        return Command(goto="__end__", update={"status": "approved", "final": final})
    return Command(goto="generate", update={"human_feedback": answer.feedback})


def _ask(attempt: Attempt) -> Answer:
    """Interrupt until the person gives a usable answer."""
    problem = None
    while True:
        reply = interrupt(shown(attempt, problem), response_schema=ANSWER_SCHEMA)
        answer, problem = parse_answer(reply)
        if answer is not None:
            return answer


def shown(attempt: Attempt, problem: str | None = None) -> dict[str, Any]:
    """Build the interrupt's payload: the attempt, how it was judged, how to answer."""
    payload: dict[str, Any] = {
        "question": QUESTION,
        "answer_with": ANSWER_SCHEMA["description"],
        "iteration": attempt["iteration"],
        "machine_approved": bool(attempt.get("approved")),
        "code": attempt["code"],
        "tests": attempt["tests"],
        "report": attempt.get("report"),
        "verdict": attempt.get("verdict"),
        "problems": [p for p in (attempt["parse_error"], attempt.get("review_error")) if p],
    }
    if problem:
        payload["answer_problem"] = problem
    return payload


def parse_answer(reply: object) -> tuple[Answer | None, str | None]:
    """Read a resume value: {"action": ...} or a plain string ("approve", else feedback).

    Returns the answer, or None and a one-line reason the reply could not be used.
    """
    if isinstance(reply, str):
        text = reply.strip()
        if text.lower() in APPROVE_WORDS:
            return Answer(), None
        return (Answer(feedback=text), None) if text else (None, "the answer was empty")
    if not isinstance(reply, dict):
        return None, f"expected an object or a string, got {type(reply).__name__}"
    try:
        answer = HumanAnswer.model_validate(reply)
    except ValidationError as exc:
        if exc.errors()[0]["loc"][0] == "feedback":
            return None, "feedback must be text"
        return None, f"unknown action {reply.get('action')!r}: use 'approve' or 'feedback'"
    if answer.action == "approve":
        return Answer(), None
    text = (answer.feedback or "").strip()
    return (Answer(feedback=text), None) if text else (None, "feedback needs some text")
