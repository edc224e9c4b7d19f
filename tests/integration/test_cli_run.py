"""`codeloop run` end to end on the real embedded model, as a user would run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from codeloop.nodes.checks import blocking_failures
from codeloop.sandbox import run_sandboxed
from tests.helpers import FIZZBUZZ


def codeloop(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codeloop.cli", *args],
        cwd=cwd, capture_output=True, text=True, timeout=600, env=dict(os.environ),
    )


def test_run_ends_approved_with_passing_tests(tmp_path: Path) -> None:
    done = codeloop("run", FIZZBUZZ, "--out", str(tmp_path / "out"), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["status"] == "approved"
    final = report["final"]
    # Approved: every test passed but for model tests the passing attempts refuted.
    assert final["report"]["passed"] >= 1 and blocking_failures(final) == []
    assert report["tokens"]["completion"] > 0
    [folder] = [p for p in (tmp_path / "out").iterdir() if p.is_dir()]  # and codeloop.db
    assert json.loads((folder / "report.json").read_text()) == report
    code = (folder / "solution.py").read_text()
    tests = (folder / "test_solution.py").read_text()
    assert "def fizzbuzz" in code
    # The files written are the ones judged: run them once more in the sandbox.
    again = run_sandboxed(code, tests)
    assert again.passed == final["report"]["passed"] and again.failed == final["report"]["failed"]


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    cases = [
        (["run", "   "], "the task is empty"),
        (["run", "x" * 10_001], "the limit is 10,000"),
        (["run", "x", "--model", "gpt:4"], "unknown model spec 'gpt:4'"),
        (["run", "--file", str(tmp_path / "none.md")], "cannot read task file"),
    ]
    for args, message in cases:
        done = codeloop(*args, cwd=tmp_path)
        assert done.returncode == 2, (args, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], done.stderr
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "results").exists()
