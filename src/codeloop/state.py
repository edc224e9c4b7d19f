"""What flows through the graph.

Everything in the state is plain JSON (TypedDicts of strings, numbers, lists), so it
checkpoints, streams over the HTTP API and renders in Studio without custom serializers.
`typing_extensions.TypedDict` is used on purpose: LangGraph's schema endpoints need it
on Python 3.11.
"""

from __future__ import annotations

import operator
import re
from typing import Annotated, Any, Literal, NotRequired

from typing_extensions import TypedDict

Status = Literal["running", "approved", "not_approved", "error"]
Outcome = Literal["passed", "failed", "error", "skipped"]


class TestCase(TypedDict):
    """One generated test and how it ended."""

    name: str
    outcome: Outcome
    message: str


class TestReportDict(TypedDict):
    """The sandbox's report on one run of the generated tests (see sandbox.TestReport)."""

    status: Literal["passed", "failed", "error", "timeout"]
    passed: int
    failed: int
    total: int
    tests: list[TestCase]
    detail: str
    duration: float
    isolation: str


class CheckDict(TypedDict):
    """A call with an expected value, judged outside the tested process (see nodes.checks)."""

    name: str
    call: str
    expected: str  # a literal's source, or "raises NAME"
    origin: Literal["task", "rule", "user", "model"]
    outcome: Literal["passed", "failed", "error"]
    actual: str  # what the call gave, as shown to people and the model
    value: NotRequired[Any]  # the plain value it returned (tagged JSON), to compare attempts
    refuted: NotRequired[bool]  # a model check the attempts that pass every trusted one contradict


class RuleAnswerDict(TypedDict):
    """The reviewer on one stated rule of the task (see nodes.rules)."""

    rule: int
    met: bool
    where: str
    text: str  # the rule itself


class VerdictDict(TypedDict):
    """The reviewer's structured verdict (see nodes.review.Verdict)."""

    rules: NotRequired[list[RuleAnswerDict]]
    approved: bool
    score: int
    issues: list[str]
    suggestions: list[str]


class Attempt(TypedDict):
    """One generate-execute-review round: what was written and how it was judged."""

    iteration: int
    code: str
    tests: str
    task_tests: NotRequired[list[str]]
    model_tests: NotRequired[str]  # the model's own tests, reused by later attempts
    checks: NotRequired[list[CheckDict]]
    candidates: NotRequired[list[int]]  # trusted checks each candidate passed (nodes.candidates)
    last_round: NotRequired[bool]  # a retry's batch of candidates, the rounds left in one
    tests_asked: NotRequired[bool]  # the model was asked for tests for this attempt
    rules_asked: NotRequired[bool]  # ... and for tests of the stated rules none checked
    parse_error: str | None
    report: NotRequired[TestReportDict]
    verdict: NotRequired[VerdictDict]
    review_error: NotRequired[str | None]
    untested_rules: NotRequired[list[str]]  # stated rules no passing test checks (nodes.rules)
    approved: NotRequired[bool]
    human_approved: NotRequired[bool]  # a person approved it in human review
    tokens: dict[str, int]
    seconds: dict[str, float]


class InputState(TypedDict):
    """What a user gives the loop: the task, and optionally tests or constraints of theirs."""

    task: str
    extra_tests: NotRequired[str]
    constraints: NotRequired[str]


class State(InputState):
    """The whole run: every attempt so far, the one in progress, and the outcome."""

    iteration: NotRequired[int]
    current: NotRequired[Attempt]
    attempts: NotRequired[Annotated[list[Attempt], operator.add]]
    human_feedback: NotRequired[str | None]
    status: NotRequired[Status]
    final: NotRequired[Attempt | None]
    error: NotRequired[str | None]


MAX_TASK_CHARS = 10_000
SLUG_WORDS = 6


def latest_model_tests(attempts: list[Attempt]) -> str:
    """The tests the model wrote for the run: the latest attempt's that has any ('' if none).

    They are written once and only ever added to, so the latest are the run's tests.
    """
    return next((a["model_tests"] for a in reversed(attempts) if a.get("model_tests")), "")


class TaskError(ValueError):
    """The task text is unusable (empty or too long)."""


def check_task(task: str) -> str:
    """The task stripped, or a TaskError saying what is wrong with it."""
    task = task.strip()
    if not task:
        raise TaskError("the task is empty: describe what the code should do")
    if len(task) > MAX_TASK_CHARS:
        raise TaskError(f"the task has {len(task):,} characters; the limit is {MAX_TASK_CHARS:,}")
    return task


def slugify(text: str, limit: int = 40) -> str:
    """A short, filesystem-safe name from a task's first words: its run folder and trace name."""
    words = re.findall(r"[a-z0-9]+", text.lower())[:SLUG_WORDS]
    return "-".join(words)[:limit].strip("-") or "task"
