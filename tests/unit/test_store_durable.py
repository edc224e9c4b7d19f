"""Durable runs on the SQLite store: stop anywhere, resume, nothing redone, result files whole."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codeloop.models.scripted import ScriptedChatModel
from codeloop.runs.durable import create_run, drive, run_status
from codeloop.runs.folders import write_run, written_report
from codeloop.runs.runner import Progress
from codeloop.runs.store import open_store
from tests.batch_support import ADD, ADD_TESTS
from tests.helpers import ScriptedContext, reply_with_code, reply_with_tests, reply_with_verdict

TASK = "Write add(a, b) returning the sum of two numbers."
# Solution, tests, verdict: a run approved in its first round.
ONE_APPROVED_ROUND = (
    reply_with_code(ADD), reply_with_tests(ADD_TESTS), reply_with_verdict(True, 9)
)


class Stop(Exception):
    pass


def stop_when(node: str):
    """An on_progress callback that stops the run as soon as `node` is next."""

    def check(progress: Progress) -> None:
        if progress.node == node:
            raise Stop

    return check


def scripted(*replies: str) -> tuple[ScriptedContext, ScriptedChatModel]:
    model = ScriptedChatModel(script=list(replies))
    return ScriptedContext(scripted=model, max_iterations=2), model


def test_a_finished_generate_is_not_redone_after_a_stop(tmp_path: Path) -> None:
    context, first = scripted(reply_with_code(ADD), reply_with_tests(ADD_TESTS))
    with open_store(tmp_path) as store:
        record = create_run(store, TASK, context, tmp_path)
        with pytest.raises(Stop):
            drive(store, record, context, stop_when("review"))
        assert len(first.prompts) == 2  # solution and tests asked for, then stopped
        assert run_status(store, record.run_id)[0] == "unfinished"
    # A new process: a fresh store connection and a model that can only review.
    context, second = scripted(reply_with_verdict(True, 9))
    with open_store(tmp_path, create=False) as store:
        result = drive(store, store.get(record.run_id), context)
    assert result.status == "approved"
    assert len(second.prompts) == 1
    assert second.options[0]["json_schema"] is not None  # the one call was the review
    assert result.final is not None and result.final["code"].strip() == ADD.strip()


def test_a_stop_before_generate_finished_redoes_only_generate(tmp_path: Path) -> None:
    context, _ = scripted(reply_with_code(ADD), reply_with_tests(ADD_TESTS))
    with open_store(tmp_path) as store:
        record = create_run(store, TASK, context, tmp_path)
        with pytest.raises(Stop):
            drive(store, record, context, stop_when("generate"))  # raised at the first event
        assert run_status(store, record.run_id)[0] == "unfinished"
        context, model = scripted(*ONE_APPROVED_ROUND)
        assert drive(store, record, context).status == "approved"
    assert len(model.prompts) == 3


def test_driving_a_finished_run_calls_no_model(tmp_path: Path) -> None:
    context, _ = scripted(*ONE_APPROVED_ROUND)
    with open_store(tmp_path) as store:
        record = create_run(store, TASK, context, tmp_path)
        first = drive(store, record, context)
        idle, model = scripted()
        again = drive(store, record, idle)
        assert run_status(store, record.run_id)[0] == "approved"
    assert model.prompts == []
    assert (again.status, again.attempts) == (first.status, first.attempts)


def test_result_folder_is_complete_and_stale_temp_files_are_removed(tmp_path: Path) -> None:
    context, _ = scripted(*ONE_APPROVED_ROUND)
    with open_store(tmp_path) as store:
        record = create_run(store, TASK, context, tmp_path)
        result = drive(store, record, context)
    folder = Path(record.result_dir)
    assert written_report(record) is None
    folder.mkdir()
    (folder / ".report.json.k1ll3d").write_text('{"half": ')  # a write cut by SIGKILL
    (folder / "notes.txt").write_text("the user's own file")
    report = write_run(record, result)
    assert sorted(p.name for p in folder.iterdir()) == [
        "notes.txt", "report.json", "solution.py", "test_solution.py"
    ]
    assert json.loads((folder / "report.json").read_text()) == report
    assert report["run_id"] == record.run_id and report["status"] == "approved"
    assert report["context"]["max_iterations"] == 2
    assert written_report(record) == report


def test_run_ids_are_unique_and_name_the_result_folder(tmp_path: Path) -> None:
    context, _ = scripted()
    with open_store(tmp_path) as store:
        ids = [create_run(store, TASK, context, tmp_path).run_id for _ in range(3)]
        assert len(set(ids)) == 3
        assert all(Path(store.get(i).result_dir) == (tmp_path / i).resolve() for i in ids)
        assert run_status(store, ids[0]) == ("pending", {})
