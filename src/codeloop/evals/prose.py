"""The prose benchmark: realistic tasks stated in sentences, scored by hidden tests.

Rules and edge cases are written in words ("no leading zeros", "raises ValueError",
"nested thousands of levels deep") with no `>>>` examples, as users write tasks. Each
line of `data/prose.jsonl` has HumanEval's shape (task_id, prompt, entry_point, and a
hidden `check(candidate)`), so the same harness runs and scores it; the hidden tests
never reach a prompt. tests/data/prose_canonical.py holds reference solutions that pass
them.
"""

from __future__ import annotations

import json
from importlib import resources

from codeloop.evals.humaneval import Problem


def load_prose(offset: int = 0, limit: int | None = None) -> list[Problem]:
    """Tasks `offset`..`offset+limit` in file order."""
    text = (resources.files(__package__) / "data" / "prose.jsonl").read_text("utf-8")
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    chosen = rows[offset : None if limit is None else offset + limit]
    return [Problem(r["task_id"], r["prompt"], r["entry_point"], r["test"]) for r in chosen]
