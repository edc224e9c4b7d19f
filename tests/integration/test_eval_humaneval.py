"""`codeloop eval humaneval --limit 2 --mode both` on the real embedded model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_two_problems_both_modes(tmp_path: Path) -> None:
    out = tmp_path / "eval"
    done = subprocess.run(
        [sys.executable, "-m", "codeloop.cli", "eval", "humaneval", "--limit", "2",
         "--mode", "both", "--max-iterations", "2", "--out", str(out)],
        capture_output=True, text=True, timeout=1200,
    )
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert sorted((r["task_id"], r["mode"]) for r in records) == [
        ("HumanEval/0", "loop"), ("HumanEval/0", "single"),
        ("HumanEval/1", "loop"), ("HumanEval/1", "single"),
    ]
    for r in records:
        assert r["tokens"]["completion"] > 0 and r["seconds"] > 0
        assert isinstance(r["passed"], bool) and r["hidden"]["status"] in ("passed", "failed", "error")
        if r["mode"] == "loop":
            assert r["status"] in ("approved", "not_approved")
            # The budget, plus one second opinion when its last attempt passed the task's
            # examples and only the model's own tests failed (graph._dispute_open).
            assert 1 <= r["iterations"] <= 3
            if r["iterations"] == 3:
                last = r["attempts"][1]
                passed, total = map(int, last["examples"].split("/"))
                assert total > 0 and passed == total and last["failing"]
    summary = (out / "summary.md").read_text()
    assert "| single | 2 |" in summary and "| loop | 2 |" in summary
    assert summary in done.stdout
    assert (out / "chart.png").stat().st_size > 1000
