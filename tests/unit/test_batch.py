"""Batches in-process with a scripted model: concurrency, reruns, failures, Ctrl-C, summaries."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from codeloop.batch.outcome import BatchRun, Outcome
from codeloop.batch.runner import Batch, batch_name
from codeloop.batch.summary import markdown, summary_of, write_summary
from codeloop.batch.tasks import BatchTask
from codeloop.context import Context
from codeloop.models.scripted import ScriptedChatModel
from codeloop.runs.stopping import Stopped
from codeloop.runs.store import (
    RunRecord,
    SqliteStore,
    StoreError,
    context_of_run,
    open_store,
    settings_of,
)
from tests.batch_support import answer, task_lines
from tests.helpers import ScriptedContext


def tasks_of(lines: list[dict[str, Any]]) -> list[BatchTask]:
    return [BatchTask(t["id"], t["task"], t.get("max_iterations"), n)
            for n, t in enumerate(lines, start=1)]


def run_batch(out: Path, tasks: list[BatchTask], respond: Any, concurrency: int = 4,
              on_outcome: Any = None) -> tuple[BatchRun, Any]:
    model = ScriptedChatModel(script=respond)

    def context_for(_: BatchTask, record: RunRecord) -> Context:
        return ScriptedContext(scripted=model, **settings_of(context_of_run(record)))

    with open_store(out) as store:
        batch = Batch(store, tasks, out, Context(model="scripted:unused"), context_for)
        plan = batch.plan()
        return batch.run(plan, concurrency, on_outcome), plan


def test_every_task_runs_once_and_the_summary_adds_up(tmp_path: Path) -> None:
    calls: list[tuple[str, str]] = []
    tasks = tasks_of(task_lines(12, buggy_every=4))  # t00, t04, t08 get buggy code
    run, _ = run_batch(tmp_path / "demo", tasks, answer(calls))
    statuses = {o.id: o.status for o in run.outcomes}
    assert [o.id for o in run.outcomes] == [t.id for t in tasks]
    assert {i for i, s in statuses.items() if s == "not_approved"} == {"t00", "t04", "t08"}
    assert Counter(statuses.values()) == {"approved": 9, "not_approved": 3}
    # solution, tests, review; a buggy one fails its tests, so its review is not paid for
    buggy = {"t00", "t04", "t08"}
    assert Counter(task for _, task in calls) == {t.id: 2 if t.id in buggy else 3 for t in tasks}
    for outcome in run.outcomes:
        report = json.loads((tmp_path / "demo" / outcome.id / "report.json").read_text())
        assert report["run_id"] == f"demo.{outcome.id}" == outcome.run_id
        assert report["status"] == outcome.status and report["iterations"] == 1
    summary = summary_of(Path("tasks.jsonl"), run, 4)
    assert summary["counts"] == {"approved": 9, "not_approved": 3, "error": 0, "pending": 0}
    assert summary["iterations"] == 12 and summary["total"] == 12
    assert summary["tokens"]["completion"] == sum(o.tokens["completion"] for o in run.outcomes) > 0


def test_rerun_skips_finished_tasks_and_leaves_their_files_alone(tmp_path: Path) -> None:
    out, tasks = tmp_path / "demo", tasks_of(task_lines(6))
    first, _ = run_batch(out, tasks, answer([]))
    assert [o.status for o in first.outcomes] == ["approved"] * 6, first.outcomes
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.glob("t*/*")}
    calls: list[tuple[str, str]] = []
    run, plan = run_batch(out, tasks, answer(calls))
    assert (len(plan.done), len(plan.todo), calls) == (6, 0, [])
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.glob("t*/*")} == before
    assert [o.status for o in run.outcomes] == ["approved"] * 6


def test_a_task_that_fails_is_an_error_and_runs_again_next_time(tmp_path: Path) -> None:
    out, tasks = tmp_path / "demo", tasks_of(task_lines(5))
    good = answer([])

    def flaky(messages: Any, kwargs: Any) -> str:
        if "T03" in messages[-1].text:
            raise ConnectionError("model server went away")
        return str(good(messages, kwargs))

    run, _ = run_batch(out, tasks, flaky)
    failed = [o for o in run.outcomes if o.status == "error"]
    assert [(o.id, o.error) for o in failed] == [("t03", "model server went away")]
    assert not (out / "t03").exists()
    calls: list[tuple[str, str]] = []
    run, plan = run_batch(out, tasks, answer(calls))
    assert [t.id for t, _ in plan.todo] == ["t03"]
    assert {task for _, task in calls} == {"t03"}
    assert all(o.status == "approved" for o in run.outcomes)


def test_reusing_an_id_for_another_task_is_reported_not_run(tmp_path: Path) -> None:
    out, lines = tmp_path / "demo", task_lines(3)
    run_batch(out, tasks_of(lines), answer([]))
    lines[1]["task"] = "Task T99: something else entirely"
    calls: list[tuple[str, str]] = []
    run, plan = run_batch(out, tasks_of(lines), answer(calls))
    assert list(plan.conflicts) == ["t01"]
    assert "line 2: id 't01' was used for a different task" in plan.conflicts["t01"]
    assert calls == [] and [o.id for o in run.outcomes] == ["t00", "t02"]
    assert run.problems == [plan.conflicts["t01"]]


def test_ctrl_c_stops_the_batch_and_a_rerun_finishes_it(tmp_path: Path) -> None:
    out, tasks = tmp_path / "demo", tasks_of(task_lines(10))

    def interrupt(_: Outcome) -> None:
        raise Stopped  # what Ctrl-C does to a batch (codeloop.runs.stopping)

    first_calls: list[tuple[str, str]] = []
    run, _ = run_batch(out, tasks, answer(first_calls), concurrency=2, on_outcome=interrupt)
    assert run.interrupted and run.abandoned == 0
    finished = {o.id for o in run.outcomes if o.status != "pending"}
    assert 1 <= len(finished) < 10
    assert {task for _, task in first_calls} <= {t.id for t in tasks}
    second_calls: list[tuple[str, str]] = []
    run, plan = run_batch(out, tasks, answer(second_calls), concurrency=2)
    assert {o.id for o in plan.done} == finished
    assert not finished & {task for _, task in second_calls}  # nothing finished is redone
    solutions = Counter(t for kind, t in first_calls + second_calls if kind == "solution")
    assert all(solutions[t.id] in (1, 2) for t in tasks)  # at most the stopped generate again
    assert [o.status for o in run.outcomes] == ["approved"] * 10
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == [t.id for t in tasks]


def test_summary_markdown_lists_tasks_counts_and_skipped_lines(tmp_path: Path) -> None:
    outcomes = [
        Outcome("a", "demo.a", "approved", 1, {"prompt": 10, "completion": 5}, 1.25, "a"),
        Outcome("b", "demo.b", "error", 0, {"prompt": 0, "completion": 0}, 0.0, None, "boom | x"),
    ]
    run = BatchRun(outcomes=outcomes, problems=["line 3: not valid JSON"], seconds=2.0, ran=2)
    summary = summary_of(Path("tasks.jsonl"), run, 2)
    write_summary(tmp_path, summary)
    assert json.loads((tmp_path / "summary.json").read_text()) == summary
    text = (tmp_path / "summary.md").read_text()
    assert text == markdown(summary)
    assert "2 tasks: 1 approved, 0 not_approved, 1 error, 0 pending" in text
    assert "| a | approved | 1 | 15 | 1.2 | a |" in text
    assert "| b | error: boom \\| x | 0 | 0 | 0.0 |  |" in text
    assert "- line 3: not valid JSON" in text


@pytest.mark.parametrize(("folder", "name"), [("nightly", "nightly"), ("my tasks!", "my-tasks")])
def test_batch_name_is_id_safe(tmp_path: Path, folder: str, name: str) -> None:
    assert batch_name(tmp_path / folder) == name


def test_a_database_failure_mid_batch_stops_it_with_a_clear_error(tmp_path: Path) -> None:
    out, tasks = tmp_path / "demo", tasks_of(task_lines(6))
    good = answer([])
    with open_store(out) as store:
        assert isinstance(store, SqliteStore)

        def break_the_database(messages: Any, kwargs: Any) -> str:
            with store.lock:
                store.conn.close()  # every later checkpoint write fails
            return str(good(messages, kwargs))

        model = ScriptedChatModel(script=break_the_database)
        batch = Batch(store, tasks, out, Context(model="scripted:unused"),
                      lambda _, record: ScriptedContext(scripted=model, max_iterations=1))
        plan = batch.plan()
        with pytest.raises(StoreError, match="the run database failed: Cannot operate on a closed"):
            batch.run(plan, concurrency=2)
    assert not list(out.glob("t*/report.json"))
