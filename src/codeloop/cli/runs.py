"""`codeloop runs`: the runs in the run database, newest first."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from rich.console import Console
from rich.table import Table

from codeloop.cli.options import add_store_options
from codeloop.runs.durable import run_status
from codeloop.runs.store import open_store

TASK_WIDTH = 60


def register(commands: Any) -> None:
    """Add the `runs` subcommand."""
    runs = commands.add_parser("runs", help="list runs: id, status, iterations, age, task")
    add_store_options(runs)
    runs.add_argument("--limit", type=int, default=50, help="newest N runs (default 50; 0: all)")
    runs.add_argument("--json", action="store_true", help="print the list as JSON on stdout")


def handle(args: argparse.Namespace, err: Console) -> int:
    """Print one line per run (or a JSON list)."""
    with open_store(args.out, create=False) as store:
        records = store.records()
        if args.limit > 0:
            records = records[: args.limit]
        rows = []
        for record in records:
            status, values = run_status(store, record.run_id)
            rows.append({
                "id": record.run_id,
                "task": record.task,
                "status": status,
                "iterations": len(values.get("attempts") or []),
                "created": record.created,
                "folder": record.result_dir,
            })
    if args.json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        err.print("no runs yet")
    else:  # on a pipe, as wide as the rows need: scripts split the lines on whitespace
        Console(width=None if sys.stdout.isatty() else 10_000).print(table(rows))
    return 0


def table(rows: list[dict[str, Any]]) -> Table:
    """Columns id, status, iterations, age, task (its first line, shortened)."""
    now = time.time()
    grid = Table(box=None, pad_edge=False, show_edge=False, header_style=None)
    for name in ("ID", "STATUS", "ITER", "AGE"):
        grid.add_column(name, no_wrap=True)
    grid.add_column("TASK", no_wrap=True, overflow="ellipsis", max_width=TASK_WIDTH)
    for r in rows:
        grid.add_row(r["id"], r["status"], str(r["iterations"]), age(now - r["created"]),
                     first_line(r["task"]))
    return grid


def age(seconds: float) -> str:
    """A short age: 40s, 12m, 3h, 5d."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{max(0, int(seconds))}s"


def first_line(task: str) -> str:
    """The task's first line (the table cuts it to fit)."""
    return task.strip().splitlines()[0] if task.strip() else ""
