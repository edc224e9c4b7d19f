"""The sandbox's narrow interface types: what limits a run gets, what it reports back."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from codeloop.state import TestReportDict

RunStatus = Literal["passed", "failed", "error", "timeout"]
TestOutcome = Literal["passed", "failed", "error", "skipped"]


class Limits(BaseModel):
    """Resource limits for one sandboxed run."""

    wall_seconds: float = Field(default=20.0, gt=0, description="Wall-clock limit of the run.")
    cpu_seconds: int = Field(default=30, gt=0, description="CPU-time limit (RLIMIT_CPU).")
    memory_bytes: int = Field(default=1 << 30, gt=0, description="Address space (RLIMIT_AS).")
    file_bytes: int = Field(default=64 << 20, gt=0, description="Largest file it may write.")
    open_files: int = Field(default=256, gt=0, description="Most open file descriptors.")
    processes: int = Field(default=64, gt=0, description="Most processes (RLIMIT_NPROC).")
    output_bytes: int = Field(default=64 << 10, gt=0, description="stdout/stderr kept, each.")
    disk_bytes: int = Field(
        default=256 << 20, gt=0, description="Size of the private /tmp holding the work directory."
    )
    isolate: bool = Field(
        default=True,
        description="Use OS isolation (namespaces, private root, own uid) where available; "
        "False only for benchmarks and debugging.",
    )


class TestResult(BaseModel):
    """One test function's outcome, with a short failure message for the model to learn from."""

    __test__ = False  # not a pytest test class, despite the name

    name: str
    outcome: TestOutcome
    message: str = ""
    judged_in_process: bool = Field(
        default=True,
        description="Whether the test ran in the process of the code it tests (pytest), where "
        "code written to forge a pass can; false for checks judged outside it.",
    )


class TestReport(BaseModel):
    """What happened when the generated tests ran against the generated code."""

    __test__ = False

    status: RunStatus
    tests: list[TestResult] = Field(default_factory=list)
    detail: str = Field(default="", description="Why the run failed as a whole, if it did.")
    stdout: str = ""
    stderr: str = ""
    duration: float = 0.0
    isolation: str = Field(default="", description="Which isolation was in force for this run.")
    cpu_seconds: float = Field(default=0.0, description="CPU time the test process used.")

    @property
    def passed(self) -> int:
        """Number of tests that passed."""
        return sum(t.outcome == "passed" for t in self.tests)

    @property
    def failed(self) -> int:
        """Number of tests that failed or errored."""
        return sum(t.outcome in ("failed", "error") for t in self.tests)

    def as_state(self) -> TestReportDict:
        """Return the JSON form kept in the graph state (without the bulky captured output)."""
        return {
            "status": self.status,
            "passed": self.passed,
            "failed": self.failed,
            "total": len(self.tests),
            "tests": [t.model_dump() for t in self.tests],  # type: ignore[misc]
            "detail": self.detail,
            "duration": round(self.duration, 3),
            "isolation": self.isolation,
        }
