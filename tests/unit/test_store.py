"""The run store: SQLite checkpointer + run index, and the errors it gives for bad set-ups."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeloop.runs.store import DB_FILE, StoreError, new_record, open_store, redact


def test_register_get_and_list_runs(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        first = new_record("r1", "task one", {"max_iterations": 2}, tmp_path / "r1")
        assert store.register(first)
        assert not store.register(new_record("r1", "another task", {}, tmp_path / "x"))
        store.register(new_record("r2", "task two", {}, tmp_path / "r2"))
    assert (tmp_path / DB_FILE).is_file()
    with open_store(tmp_path, create=False) as store:  # a new connection sees what was written
        assert store.get("r1") == first
        assert store.get("missing") is None
        assert [r.run_id for r in store.records()] == ["r2", "r1"]


def test_corrupt_database_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / DB_FILE).write_bytes(b"this is not a database" * 200)
    with pytest.raises(StoreError) as caught, open_store(tmp_path):
        pass
    message = str(caught.value)
    assert str(tmp_path / DB_FILE) in message
    assert "unreadable" in message and "move it aside" in message


def test_results_folder_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "results"
    blocker.write_text("a file, not a folder")
    with pytest.raises(StoreError, match="cannot write to the results folder"), open_store(blocker):
        pass
    assert blocker.read_text() == "a file, not a folder"


def test_reading_commands_do_not_create_a_database(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no run database at"), open_store(tmp_path, create=False):
        pass
    assert not (tmp_path / DB_FILE).exists()


def test_codeloop_db_must_be_a_postgres_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODELOOP_DB", "mysql://user:hunter2@db/x")
    with pytest.raises(StoreError) as caught, open_store(tmp_path):
        pass
    assert "postgresql://" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_redact_hides_the_password() -> None:
    assert redact("postgresql://me:s3cret@host:5432/db") == "postgresql://me:***@host:5432/db"
    assert redact("postgresql://host/db") == "postgresql://host/db"
