"""`codeloop runs`: the runs in the run database, newest first."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from rich.console import Console

from codeloop.commands.resume import add_store_options
from codeloop.durable import run_status
from codeloop.store import open_store

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
    else:
        print(table(rows))
    return 0


def table(rows: list[dict[str, Any]]) -> str:
    """Aligned columns: id, status, iterations, age, task (first line, shortened)."""
    now = time.time()
    lines = [(r["id"], r["status"], str(r["iterations"]), age(now - r["created"]),
              shorten(r["task"])) for r in rows]
    header = ("ID", "STATUS", "ITER", "AGE", "TASK")
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(4)]
    return "\n".join(
        "  ".join([*(cell.ljust(w) for cell, w in zip(line[:4], widths, strict=True)), line[4]])
        for line in [header, *lines]
    )


def age(seconds: float) -> str:
    """A short age: 40s, 12m, 3h, 5d."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{max(0, int(seconds))}s"


def shorten(task: str) -> str:
    """The task's first line, cut to fit a terminal row."""
    first = task.strip().splitlines()[0] if task.strip() else ""
    return first if len(first) <= TASK_WIDTH else first[: TASK_WIDTH - 1] + "…"
