"""`codeloop run` stopped by Ctrl-C, then `runs`, `show` and `resume`, as real processes.

The model is the `scripted:` file backend with a call log, so the test can see which
model calls the resumed process made: a finished generate must not be asked for again.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.batch_support import (
    cli_env,
    codeloop_command,
    interrupt_when,
    logged_calls,
    run_cli,
    write_script,
)

pytestmark = pytest.mark.integration
TASK = "Task T01: write add(a, b) returning the sum."


def test_interrupted_run_is_listed_shown_and_resumed_without_redoing_generate(
    tmp_path: Path,
) -> None:
    log = tmp_path / "calls.jsonl"
    model = write_script(tmp_path / "script.json", delay=0.3, log=log)
    proc = subprocess.Popen(
        codeloop_command("run", TASK, "--model", model, "--out", "out"),
        cwd=tmp_path, env=cli_env(), stderr=subprocess.PIPE, text=True,
    )
    stderr = interrupt_when(proc, "review")
    assert proc.returncode == 130, stderr
    assert "stopping after the current step" in stderr
    found = re.search(r"stopped; continue with: codeloop resume (\S+) --out out", stderr)
    assert found, stderr
    run_id = found.group(1)
    assert not (tmp_path / "out" / run_id).exists()  # no result folder for an unfinished run
    first_pid = {c["pid"] for c in logged_calls(log)}

    listed = run_cli("runs", "--out", "out", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    row = listed.stdout.splitlines()[1].split()
    # Ctrl-C once review shows lets review finish and be saved (0 or 1 attempt, by timing)
    assert row[:2] == [run_id, "unfinished"] and row[2] in ("0", "1") and "Task T01" in listed.stdout

    resumed = run_cli("resume", run_id, "--out", "out", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "approved after 1 iteration(s)" in resumed.stderr
    assert not re.search(r"^generate", resumed.stderr, re.MULTILINE)
    later = [c["call"] for c in logged_calls(log) if c["pid"] not in first_pid]
    assert later in (["review"], [])  # review again only if Ctrl-C came before it finished
    report = json.loads((tmp_path / "out" / run_id / "report.json").read_text())
    assert report["run_id"] == run_id and report["status"] == "approved"

    shown = run_cli("show", run_id, "--out", "out", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert f"run {run_id}: approved" in shown.stdout
    assert "attempt 1: tests 2/2 passed · review 9/10 · approved" in shown.stdout
    assert "final code (attempt 1):\ndef add(a, b):\n    return a + b" in shown.stdout

    again = run_cli("resume", run_id, "--out", "out", cwd=tmp_path)
    assert again.returncode == 0 and "had already finished" in again.stderr
    assert len([c for c in logged_calls(log) if c["pid"] not in first_pid]) == len(later)


def test_unknown_run_and_missing_database_are_clear_errors(tmp_path: Path) -> None:
    missing = run_cli("show", "nope", "--out", "out", cwd=tmp_path)
    assert missing.returncode == 2
    assert "no run database at out/codeloop.db" in missing.stderr
    model = write_script(tmp_path / "script.json")
    assert run_cli("run", TASK, "--model", model, "--out", "out", cwd=tmp_path).returncode == 0
    unknown = run_cli("resume", "nope", "--out", "out", cwd=tmp_path)
    assert unknown.returncode == 2
    expected = "no run 'nope' in out/codeloop.db: `codeloop runs --out out` lists them"
    assert expected in unknown.stderr
