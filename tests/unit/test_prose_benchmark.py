"""The prose benchmark's hidden tests are right: the reference solutions pass every one."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeloop.evals.humaneval import score
from codeloop.evals.prose import load_prose

CANONICAL = Path(__file__).parents[1] / "data" / "prose_canonical.py"
PROBLEMS = load_prose()


def test_sixteen_tasks_in_prose_without_doctests() -> None:
    assert len(PROBLEMS) == 16 and len({p.task_id for p in PROBLEMS}) == 16
    assert all(">>>" not in p.prompt for p in PROBLEMS)


@pytest.mark.parametrize("problem", PROBLEMS, ids=[p.task_id for p in PROBLEMS])
def test_the_reference_solution_passes_the_hidden_tests(problem) -> None:
    source = CANONICAL.read_text()
    assert f"def {problem.entry_point}(" in source
    report = score(problem, source)
    assert report.status == "passed", (report.detail, report.tests)
