"""The same durable runs and batches on a real PostgreSQL server (`CODELOOP_DB=postgresql://...`).

`.ci/run` installs and starts the server (`.ci/start-postgres`) and exports its URL as
`CODELOOP_TEST_PG`. With that set, an unreachable server fails the tests; without it
(a developer's `pytest` with no server running) they skip, saying how to start one.
Every test uses fresh run ids, so runs left from earlier test sessions do not matter.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from codeloop.batch.runner import Batch
from codeloop.batch.tasks import BatchTask
from codeloop.context import Context
from codeloop.models.scripted import ScriptedChatModel
from codeloop.runs.durable import create_run, drive, run_status
from codeloop.runs.store import (
    PostgresStore,
    RunRecord,
    context_of_run,
    open_store,
    redact,
    settings_of,
)
from tests.batch_support import (
    ADD,
    ADD_TESTS,
    answer,
    cli_env,
    codeloop_command,
    logged_calls,
    run_cli,
    task_lines,
    write_script,
    write_tasks,
)
from tests.helpers import ScriptedContext, reply_with_code, reply_with_tests, reply_with_verdict

psycopg = pytest.importorskip("psycopg", reason="the postgres extra is not installed")
pytestmark = pytest.mark.integration
DEFAULT_URL = "postgresql://codeloop_test:codeloop_test@127.0.0.1:5432/codeloop_test"


@pytest.fixture(scope="module")
def pg_url() -> str:
    url = os.environ.get("CODELOOP_TEST_PG") or DEFAULT_URL
    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.Error as exc:
        problem = f"no PostgreSQL server reachable at {redact(url)} ({exc})"
        if os.environ.get("CODELOOP_TEST_PG"):
            pytest.fail(problem)
        pytest.skip(f"{problem}; `bash .ci/start-postgres` installs and starts one")
    return url


@pytest.fixture
def on_postgres(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("CODELOOP_DB", pg_url)
    return pg_url


def test_a_run_stopped_after_generate_resumes_from_postgres(
    on_postgres: str, tmp_path: Path
) -> None:
    model = ScriptedChatModel(script=[reply_with_code(ADD), reply_with_tests(ADD_TESTS)])
    context = ScriptedContext(scripted=model, max_iterations=1)

    def stop_before_review(progress: Any) -> None:
        if progress.node == "review":
            raise KeyboardInterrupt

    task = f"Write add(a, b) ({uuid.uuid4().hex})"
    with open_store(tmp_path) as store:
        assert isinstance(store, PostgresStore)
        record = create_run(store, task, context, tmp_path)
        with pytest.raises(KeyboardInterrupt):
            drive(store, record, context, stop_before_review)
    assert not (tmp_path / "codeloop.db").exists()  # the state went to Postgres
    reviewer = ScriptedChatModel(script=[reply_with_verdict(True, 9)])
    with open_store(tmp_path, create=False) as store:  # a new pool, as a new process would have
        assert run_status(store, record.run_id)[0] == "unfinished"
        stored = store.get(record.run_id)
        assert stored is not None and stored.task == task
        result = drive(store, stored, ScriptedContext(scripted=reviewer, max_iterations=1))
        assert run_status(store, record.run_id)[0] == "approved"
    assert result.status == "approved" and len(reviewer.prompts) == 1


def test_concurrent_batch_on_postgres_and_rerun_skips_finished(
    on_postgres: str, tmp_path: Path
) -> None:
    out = tmp_path / f"pg-{uuid.uuid4().hex[:12]}"
    tasks = [BatchTask(t["id"], t["task"], 1, n) for n, t in enumerate(task_lines(8, 4), 1)]
    calls: list[tuple[str, str]] = []
    model = ScriptedChatModel(script=answer(calls))

    def context_for(_: BatchTask, record: RunRecord) -> Context:
        return ScriptedContext(scripted=model, **settings_of(context_of_run(record)))

    for _ in range(2):
        with open_store(out) as store:
            batch = Batch(store, tasks, out, Context(model="scripted:unused"), context_for)
            run = batch.run(batch.plan(), concurrency=4)
    # solution, tests, review; a buggy one fails its tests, so its review is not paid for.
    # The second pass found all eight finished: no call more.
    assert len(calls) == 6 * 3 + 2 * 2
    assert {o.id: o.status for o in run.outcomes if o.status != "approved"} == {
        "t00": "not_approved", "t04": "not_approved"}


def test_cli_batch_killed_and_rerun_on_postgres(pg_url: str, tmp_path: Path) -> None:
    name = f"pg-{uuid.uuid4().hex[:12]}"
    write_tasks(tmp_path / "tasks.jsonl", task_lines(6, buggy_every=3))
    log = tmp_path / "calls.jsonl"
    model = write_script(tmp_path / "script.json", delay=0.15, log=log)
    args = ("batch", "tasks.jsonl", "--model", model, "--out", name, "--concurrency", "2")
    proc = subprocess.Popen(codeloop_command(*args), cwd=tmp_path, env=cli_env(CODELOOP_DB=pg_url),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:  # one progress line per finished task
        if line.startswith("[2/6]"):
            proc.send_signal(signal.SIGKILL)
            break
    proc.communicate()
    finished = {p.parent.name for p in (tmp_path / name).glob("*/report.json")}
    assert 2 <= len(finished) < 6
    first = {c["pid"] for c in logged_calls(log)}
    rerun = run_cli(*args, cwd=tmp_path, CODELOOP_DB=pg_url)
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads((tmp_path / name / "summary.json").read_text())
    assert summary["counts"] == {"approved": 4, "not_approved": 2, "error": 0, "pending": 0}
    assert not {c["task"] for c in logged_calls(log) if c["pid"] not in first} & finished
    listed = run_cli("runs", "--limit", "0", cwd=tmp_path, CODELOOP_DB=pg_url)
    assert listed.returncode == 0, listed.stderr
    mine = [line.split() for line in listed.stdout.splitlines() if line.startswith(name)]
    assert sorted(row[0] for row in mine) == [f"{name}.t{n:02d}" for n in range(6)]
    assert {row[1] for row in mine} == {"approved", "not_approved"}
    assert not (tmp_path / name / "codeloop.db").exists()


def test_unreachable_postgres_is_a_clear_error(tmp_path: Path) -> None:
    write_tasks(tmp_path / "tasks.jsonl", task_lines(1))
    model = write_script(tmp_path / "script.json")
    url = "postgresql://someone:hunter2@127.0.0.1:1/nothing"
    done = run_cli("batch", "tasks.jsonl", "--model", model, cwd=tmp_path, CODELOOP_DB=url)
    assert done.returncode == 2
    assert done.stderr.startswith(
        "error: cannot connect to CODELOOP_DB=postgresql://someone:***@127.0.0.1:1/nothing: ")
    assert "hunter2" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
