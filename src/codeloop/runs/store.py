"""Where runs are kept: a LangGraph checkpointer, plus a small index of the runs in it.

SQLite (`<results dir>/codeloop.db`) by default; Postgres when `CODELOOP_DB` is a
`postgresql://` connection string, for servers and many workers sharing one database.
The checkpointer holds each run's state as a LangGraph thread (thread id = run id); the
index (`codeloop_runs`) holds what the checkpoints do not: the task, when the run was
created, its settings (so `resume` can rebuild its Context) and its result folder.
Status and iterations are always read from the checkpoint, the one source of truth.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from codeloop.context import Context

DB_FILE = "codeloop.db"
DB_ENV = "CODELOOP_DB"
INDEX_SCHEMA = """CREATE TABLE IF NOT EXISTS codeloop_runs (
    run_id TEXT PRIMARY KEY,
    task TEXT NOT NULL,
    created DOUBLE PRECISION NOT NULL,
    settings TEXT NOT NULL,
    result_dir TEXT NOT NULL
)"""
COLUMNS = "run_id, task, created, settings, result_dir"


class StoreError(RuntimeError):
    """The run database or the results folder cannot be used; the message says why."""


@dataclass(frozen=True)
class RunRecord:
    """One run in the index: what it works on, with which settings, where it writes."""

    run_id: str
    task: str
    created: float
    settings: dict[str, Any]
    result_dir: str


def settings_of(context: Context) -> dict[str, Any]:
    """The Context's own fields as JSON, stored with the run so `resume` can rebuild it."""
    return {f.name: getattr(context, f.name) for f in dataclasses.fields(Context)}


def context_of_run(record: RunRecord, **overrides: Any) -> Context:
    """The Context a run was started with (fields this version does not know are dropped)."""
    known = {f.name for f in dataclasses.fields(Context)}
    settings = {k: v for k, v in record.settings.items() if k in known}
    return Context(**{**settings, **{k: v for k, v in overrides.items() if v is not None}})


class Store:
    """A checkpointer and the run index beside it, shared by every thread of a process.

    Storage only: the workflow is compiled against `saver` by codeloop.runs.durable.
    """

    def __init__(self, saver: Any, location: str) -> None:
        self.saver: BaseCheckpointSaver[Any] = saver
        self._setup: Any = saver.setup  # both savers have it; the base class does not
        self.location = location

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[list[tuple[Any, ...]], int]:
        """Run one statement in its own transaction: (rows, rows changed)."""
        raise NotImplementedError

    def register(self, record: RunRecord) -> bool:
        """Add `record` to the index; False if its run id is already taken."""
        _, changed = self._query(
            f"INSERT INTO codeloop_runs ({COLUMNS}) VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT (run_id) DO NOTHING",
            (record.run_id, record.task, record.created, json.dumps(record.settings),
             record.result_dir),
        )
        return changed == 1

    def get(self, run_id: str) -> RunRecord | None:
        """The indexed run with this id, if there is one."""
        rows, _ = self._query(f"SELECT {COLUMNS} FROM codeloop_runs WHERE run_id = %s", (run_id,))
        return _record(rows[0]) if rows else None

    def records(self) -> list[RunRecord]:
        """Every indexed run, newest first."""
        rows, _ = self._query(f"SELECT {COLUMNS} FROM codeloop_runs ORDER BY created DESC")
        return [_record(row) for row in rows]


class SqliteStore(Store):
    """The default store: one SQLite file, one connection guarded by the saver's lock."""

    def __init__(self, path: Path) -> None:
        from langgraph.checkpoint.sqlite import SqliteSaver

        conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
        saver = SqliteSaver(conn)
        super().__init__(saver, str(path))
        self.conn, self.lock = conn, saver.lock

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[list[tuple[Any, ...]], int]:
        with self.lock, self.conn:
            cursor = self.conn.execute(sql.replace("%s", "?"), params)
            return cursor.fetchall(), cursor.rowcount


class PostgresStore(Store):
    """A shared Postgres database: a small connection pool for the saver and the index."""

    def __init__(self, url: str) -> None:
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool

        kwargs = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
        self.pool: Any = ConnectionPool(url, min_size=1, max_size=8, kwargs=kwargs, open=False)
        try:
            self.pool.open(wait=True, timeout=10)
        except BaseException:
            self.pool.close()
            raise
        super().__init__(PostgresSaver(self.pool), redact(url))

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[list[tuple[Any, ...]], int]:
        with self.pool.connection() as conn, conn.cursor() as cursor:
            cursor.execute(sql, params)
            rows = [tuple(row.values()) for row in cursor.fetchall()] if cursor.description else []
            return rows, cursor.rowcount


@contextmanager
def open_store(out: Path, *, create: bool = True) -> Iterator[Store]:
    """The store for results folder `out` (or `CODELOOP_DB`), ready to use, closed after.

    `create=False` is for commands that only read (runs, show, resume): a missing
    SQLite file is then an error rather than a new empty database, and `out` is not
    created.
    """
    url = os.environ.get(DB_ENV, "").strip()
    if url and not url.startswith(("postgresql://", "postgres://")):
        raise StoreError(f"{DB_ENV} must be a postgresql:// connection string (got {redact(url)})")
    if create:  # the results go to `out` whichever database holds the state
        ensure_writable(out)
    store = _open_postgres(url) if url else _open_sqlite(out, create)
    try:
        yield store
    finally:
        _close(store)


def _open_sqlite(out: Path, create: bool) -> SqliteStore:
    path = out / DB_FILE
    if not create and not path.is_file():
        raise StoreError(f"no run database at {path}: give the results folder with --out")
    store = SqliteStore(path)
    try:
        store._setup()
        store._query(INDEX_SCHEMA)
        store.records()
    except sqlite3.DatabaseError as exc:
        store.conn.close()
        raise StoreError(
            f"the run database {path} is unreadable ({exc}): move it aside to start afresh "
            f"(finished results in {out} are kept)"
        ) from None
    return store


def _open_postgres(url: str) -> PostgresStore:
    try:
        import psycopg
        from psycopg_pool import PoolTimeout
    except ImportError:
        raise StoreError(
            f"{DB_ENV} needs the Postgres checkpointer: pip install 'codeloop[postgres]'"
        ) from None
    try:
        psycopg.connect(url, connect_timeout=10).close()  # the server's own reason, at once
        store = PostgresStore(url)
    except (psycopg.Error, PoolTimeout) as exc:
        reason = " ".join(str(exc).split())
        raise StoreError(f"cannot connect to {DB_ENV}={redact(url)}: {reason}") from None
    try:
        store._setup()
        store._query(INDEX_SCHEMA)
    except psycopg.Error as exc:
        store.pool.close()
        raise StoreError(f"cannot set up the run tables in {redact(url)}: {exc}") from None
    return store


def _close(store: Store) -> None:
    if isinstance(store, SqliteStore):
        with store.lock:
            store.conn.close()
    elif isinstance(store, PostgresStore):
        store.pool.close()


def ensure_writable(out: Path) -> None:
    """Create `out` if needed and prove a file can be written there, or say why not."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise StoreError(f"cannot write to the results folder {out}: {reason}") from None


def redact(url: str) -> str:
    """A connection string with its password hidden, fit for an error message."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def new_record(run_id: str, task: str, settings: dict[str, Any], result_dir: Path) -> RunRecord:
    """A record for a run created now."""
    return RunRecord(run_id, task, time.time(), settings, str(result_dir.resolve()))


def _record(row: tuple[Any, ...]) -> RunRecord:
    run_id, task, created, settings, result_dir = row
    return RunRecord(str(run_id), str(task), float(created), json.loads(settings), str(result_dir))


__all__ = [
    "DB_ENV", "DB_FILE", "RunRecord", "Store", "StoreError", "context_of_run", "new_record",
    "open_store", "settings_of",
]
