"""Request and response bodies of the service endpoints (they make the OpenAPI schema).

Limits are checked here, so an oversize field is a 422 naming the field and the limit
before any work starts: a task over 10,000 characters, code or tests over 100 KB.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from codeloop.nodes.review import Verdict
from codeloop.sandbox import TestResult
from codeloop.state import MAX_TASK_CHARS, check_task

MAX_CODE_BYTES = 100_000
TASK_HELP = f"What the code should do, in plain words (at most {MAX_TASK_CHARS:,} characters)."


def _checked_source(value: str, what: str) -> str:
    size = len(value.encode("utf-8"))
    if size > MAX_CODE_BYTES:
        raise ValueError(f"the {what} is {size:,} bytes; the limit is {MAX_CODE_BYTES:,}")
    return value


class GenerateRequest(BaseModel):
    """A task to write code and tests for (one generation, no loop)."""

    model_config = ConfigDict(extra="forbid")
    task: str = Field(description=TASK_HELP, examples=["Write a function is_even(n)."])
    constraints: str = Field(
        "", max_length=MAX_TASK_CHARS, description="Optional constraints on the solution."
    )

    @field_validator("task")
    @classmethod
    def _task(cls, value: str) -> str:
        return check_task(value)


class GenerateResponse(BaseModel):
    """The model's solution and its pytest tests, or why there is no usable code."""

    code: str = Field(description="The solution module (solution.py).")
    tests: str = Field(description="pytest tests importing `from solution import *`.")
    error: str | None = Field(description="Why the reply held no usable code; null if it did.")
    tokens: dict[str, int] = Field(description="Prompt and completion tokens used.")
    seconds: float = Field(description="Wall-clock seconds the generation took.")


class ReviewRequest(BaseModel):
    """Code to test in the sandbox and have reviewed against its task."""

    model_config = ConfigDict(extra="forbid")
    task: str = Field(description=TASK_HELP)
    code: str = Field(description=f"The solution module (at most {MAX_CODE_BYTES:,} bytes).")
    tests: str | None = Field(
        None,
        description="pytest tests for it, importing `from solution import *` (at most "
        f"{MAX_CODE_BYTES:,} bytes). Without them only the examples written in the task "
        "are run; with neither, nothing is tested or reviewed and the code is not approved.",
    )

    @field_validator("task")
    @classmethod
    def _task(cls, value: str) -> str:
        return check_task(value)

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the code is empty")
        return _checked_source(value, "code")

    @field_validator("tests")
    @classmethod
    def _tests(cls, value: str | None) -> str | None:
        return None if value is None else _checked_source(value, "tests")


class TestReportOut(BaseModel):
    """How the tests ran in the sandbox."""

    __test__ = False  # not a pytest test class, despite the name
    status: Literal["passed", "failed", "error", "timeout"]
    passed: int
    failed: int
    total: int
    tests: list[TestResult] = Field(description="Each test's outcome and failure message.")
    detail: str = Field(description="Why the run failed as a whole (collection, timeout).")
    duration: float = Field(description="Seconds the test run took.")


class ReviewResponse(BaseModel):
    """The test report, the reviewer's verdict, and whether that adds up to approval."""

    approved: bool = Field(
        description="Every test passed and the reviewer approved with a score at or above "
        "the review threshold."
    )
    report: TestReportOut
    verdict: Verdict | None = Field(description="The reviewer's verdict; null if none usable.")
    review_error: str | None = Field(description="Why there is no usable verdict, if so.")
    tokens: dict[str, int] = Field(description="Prompt and completion tokens used.")
    seconds: dict[str, float] = Field(description="Seconds spent testing and reviewing.")


class HealthResponse(BaseModel):
    """Whether the model backend can serve requests (HTTP 200) or not (HTTP 503)."""

    status: Literal["ok", "unavailable"]
    backend: str = Field(description="The kind of model backend: local, tgi, or unknown.")
    version: str = Field(description="codeloop's version.")
    reason: str | None = Field(None, description="Why the backend is unavailable.")


class ErrorBody(BaseModel):
    """Every error: one line saying what is wrong (never a trace, a path or a secret)."""

    detail: str
