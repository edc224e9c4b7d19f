"""A real `codeloop run` on the embedded model, stopped by Ctrl-C after generate, then resumed."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.batch_support import cli_env, codeloop_command, interrupt_when, run_cli

pytestmark = pytest.mark.integration
TASK = "Write a function add(a, b) that returns the sum of a and b."


def test_embedded_model_run_resumes_after_ctrl_c_without_generating_again(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        codeloop_command("run", TASK, "--max-iterations", "1", "--out", "out"),
        cwd=tmp_path, env=cli_env(), stderr=subprocess.PIPE, text=True,
    )
    stderr = interrupt_when(proc, "execute")  # generate has finished and been checkpointed
    assert proc.returncode == 130, stderr
    run_id = re.search(r"codeloop resume (\S+) --out out", stderr).group(1)  # type: ignore[union-attr]
    shown = run_cli("show", run_id, "--out", "out", "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    generated = json.loads(shown.stdout)["current"]
    assert generated["code"] and "generate" in generated["seconds"]

    resumed = run_cli("resume", run_id, "--out", "out", cwd=tmp_path, timeout=900)
    assert resumed.returncode in (0, 1), resumed.stderr
    assert not re.search(r"^generate", resumed.stderr, re.MULTILINE), resumed.stderr
    report = json.loads((tmp_path / "out" / run_id / "report.json").read_text())
    assert report["iterations"] == 1
    attempt = report["attempts"][0]
    # The attempt is the one generated before Ctrl-C: same code, same recorded generate time.
    assert attempt["code"] == generated["code"]
    assert attempt["seconds"]["generate"] == generated["seconds"]["generate"]
    assert "review" in attempt["seconds"] and attempt["report"]["total"] >= 1
