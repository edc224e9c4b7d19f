"""Fault injection on real `codeloop batch` processes (scripted model): nothing lost, nothing twice.

The model is the `scripted:` file backend with a per-call delay, so a signal reliably
lands while tasks are in flight; the sandbox, the checkpointer and the result files are
the real ones.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.batch_support import (
    cli_env,
    codeloop_command,
    leftovers,
    logged_calls,
    run_cli,
    task_lines,
    write_script,
    write_tasks,
)

pytestmark = pytest.mark.integration


def start_batch(tmp_path: Path, model: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        codeloop_command("batch", "tasks.jsonl", "--model", model, "--out", "out", *args),
        cwd=tmp_path, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def wait_for_reports(out: Path, count: int, proc: subprocess.Popen[str], limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while len(list(out.glob("*/report.json"))) < count:
        assert proc.poll() is None, f"batch ended early: {proc.communicate()}"
        assert time.monotonic() < deadline, "no progress"
        time.sleep(0.02)


def snapshot(out: Path, tasks: set[str]) -> dict[str, tuple[int, bytes]]:
    """Modification time and bytes of every file in these tasks' folders."""
    return {str(p.relative_to(out)): (p.stat().st_mtime_ns, p.read_bytes())
            for task in tasks for p in (out / task).iterdir()}


def check_complete(out: Path, count: int, not_approved: set[str]) -> dict[str, object]:
    """Every task has exactly one complete folder; the summary agrees with them."""
    folders = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert folders == [f"t{n:02d}" for n in range(count)]
    for folder in out.glob("t*"):
        assert sorted(p.name for p in folder.iterdir()) == [
            "report.json", "solution.py", "test_solution.py"
        ]
    assert leftovers(out) == []
    summary = json.loads((out / "summary.json").read_text())
    statuses = {row["id"]: row["status"] for row in summary["tasks"]}
    assert {i for i, s in statuses.items() if s == "not_approved"} == not_approved
    assert summary["counts"] == {"approved": count - len(not_approved),
                                 "not_approved": len(not_approved), "error": 0, "pending": 0}
    for row in summary["tasks"]:
        report = json.loads((out / row["id"] / "report.json").read_text())
        assert (report["status"], report["iterations"]) == (row["status"], row["iterations"])
    return summary


def test_sigkill_mid_batch_then_rerun_finishes_every_task_exactly_once(tmp_path: Path) -> None:
    write_tasks(tmp_path / "tasks.jsonl", task_lines(12, buggy_every=4))
    log = tmp_path / "calls.jsonl"
    model = write_script(tmp_path / "script.json", delay=0.15, log=log)
    out = tmp_path / "out"
    proc = start_batch(tmp_path, model, "--concurrency", "3")
    wait_for_reports(out, 3, proc)
    proc.kill()
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    finished = {p.parent.name for p in out.glob("*/report.json")}
    assert len(finished) < 12, "the kill came too late to test anything"
    before = snapshot(out, finished)
    first_pids = {c["pid"] for c in logged_calls(log)}

    rerun = run_cli("batch", "tasks.jsonl", "--model", model, "--out", "out",
                    "--concurrency", "3", cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(finished)} of 12 tasks already finished" in rerun.stderr
    check_complete(out, 12, {"t00", "t04", "t08"})
    assert snapshot(out, finished) == before  # finished results untouched
    second = [c for c in logged_calls(log) if c["pid"] not in first_pids]
    assert second and not {c["task"] for c in second} & finished  # and not run again


def test_ctrl_c_stops_within_seconds_and_says_how_to_resume(tmp_path: Path) -> None:
    write_tasks(tmp_path / "tasks.jsonl", task_lines(8))
    model = write_script(tmp_path / "script.json", delay=0.4)
    out = tmp_path / "out"
    proc = start_batch(tmp_path, model, "--concurrency", "2")
    wait_for_reports(out, 1, proc)
    asked = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    stopped_in = time.monotonic() - asked
    assert proc.returncode == 130, stderr
    assert stopped_in < 5, f"took {stopped_in:.1f}s to stop"
    command = "codeloop batch tasks.jsonl --out out --concurrency 2 --model " + model
    assert f"interrupted: rerun to resume where it stopped: {command}" in stderr
    assert "Traceback" not in stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["last_invocation"]["interrupted"] and summary["counts"]["pending"] > 0
    assert leftovers(out) == []
    finished = {p.parent.name for p in out.glob("*/report.json")}
    before = snapshot(out, finished)
    rerun = run_cli(*command.split()[1:], cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(finished)} of 8 tasks already finished" in rerun.stderr
    check_complete(out, 8, set())
    assert snapshot(out, finished) == before


def test_ctrl_c_during_a_long_model_call_leaves_it_at_its_checkpoint(tmp_path: Path) -> None:
    write_tasks(tmp_path / "tasks.jsonl", task_lines(3))
    model = write_script(tmp_path / "script.json", delay=30)
    proc = start_batch(tmp_path, model, "--concurrency", "3")
    deadline = time.monotonic() + 60
    while not (tmp_path / "out" / "codeloop.db").exists():  # started (imports take seconds)
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(2)  # every task is now inside its first, 30-second model call
    asked = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert time.monotonic() - asked < 6
    assert "interrupted: rerun to resume" in stderr
    write_script(tmp_path / "script.json", delay=0)
    rerun = run_cli("batch", "tasks.jsonl", "--model", model, "--out", "out",
                    "--concurrency", "3", cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    check_complete(tmp_path / "out", 3, set())


def test_fifty_tasks_at_concurrency_eight_with_correct_summaries(tmp_path: Path) -> None:
    lines = task_lines(50, buggy_every=5)
    bad = ("{broken\n", '{"id": "t01", "task": "dup"}\n')
    write_tasks(tmp_path / "tasks.jsonl", lines, extra=bad)
    model = write_script(tmp_path / "script.json", delay=0.05)
    done = run_cli("batch", "tasks.jsonl", "--model", model, "--out", "out",
                   "--concurrency", "8", cwd=tmp_path)
    assert done.returncode == 1, done.stderr  # complete, but two lines were skipped
    assert "skipped line 51: not valid JSON" in done.stderr
    assert "skipped line 52: duplicate id 't01' (first on line 2)" in done.stderr
    summary = check_complete(tmp_path / "out", 50, {f"t{n:02d}" for n in range(0, 50, 5)})
    assert summary["total"] == 50 and summary["iterations"] == 50
    assert len(summary["invalid_lines"]) == 2
    assert summary["last_invocation"] == {**summary["last_invocation"], "ran": 50,
                                          "concurrency": 8, "interrupted": False}
    markdown = (tmp_path / "out" / "summary.md").read_text()
    assert "50 tasks: 40 approved, 10 not_approved, 0 error, 0 pending" in markdown
    assert markdown.count("\n| t") == 50


def test_corrupt_checkpoint_database_is_a_clear_error(tmp_path: Path) -> None:
    write_tasks(tmp_path / "tasks.jsonl", task_lines(2))
    model = write_script(tmp_path / "script.json")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "codeloop.db").write_bytes(os.urandom(8192))
    done = run_cli("batch", "tasks.jsonl", "--model", model, "--out", "out", cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "out/codeloop.db is unreadable" in lines[0]
    assert "move it aside" in lines[0] and "Traceback" not in done.stderr


@contextlib.contextmanager
def unwritable(folder: Path) -> Iterator[None]:
    """Make `folder` unwritable even for root (immutable), or plain read-only otherwise."""
    folder.mkdir()
    if os.geteuid() == 0:
        if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode:
            pytest.skip("running as root on a filesystem without chattr +i")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
    else:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)


@pytest.mark.parametrize("kind", ["read-only folder", "a file in the way"])
def test_unwritable_results_folder_is_a_clear_error(tmp_path: Path, kind: str) -> None:
    write_tasks(tmp_path / "tasks.jsonl", task_lines(2))
    model = write_script(tmp_path / "script.json")
    args = ("batch", "tasks.jsonl", "--model", model, "--out", "out")
    if kind == "a file in the way":
        (tmp_path / "out").write_text("not a folder")
        done = run_cli(*args, cwd=tmp_path)
    else:
        with unwritable(tmp_path / "out"):
            done = run_cli(*args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().startswith("error: cannot write to the results folder out")
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_second_batch_on_the_same_folder_is_refused_until_the_first_is_gone(
    tmp_path: Path,
) -> None:
    write_tasks(tmp_path / "tasks.jsonl", task_lines(2))
    model = write_script(tmp_path / "script.json", delay=30)
    proc = start_batch(tmp_path, model)
    deadline = time.monotonic() + 60
    while not (tmp_path / "out" / "codeloop.db").exists():  # opened once the lock is held
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    args = ("batch", "tasks.jsonl", "--model", model, "--out", "out")
    second = run_cli(*args, cwd=tmp_path)
    assert second.returncode == 2
    assert "another codeloop batch is running in out" in second.stderr
    proc.kill()  # the kernel releases the lock of a killed process
    proc.communicate()
    write_script(tmp_path / "script.json", delay=0)
    third = run_cli(*args, cwd=tmp_path)
    assert third.returncode == 0, third.stderr
    check_complete(tmp_path / "out", 2, set())
