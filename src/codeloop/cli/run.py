"""`codeloop run`: one task through the loop, written to a results folder."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console

from codeloop.cli.live import run_live
from codeloop.cli.options import add_run_options, context_from, resume_hint, show_outcome
from codeloop.models import chat_model
from codeloop.runs.durable import create_run
from codeloop.runs.folders import write_run
from codeloop.runs.store import open_store
from codeloop.state import check_task

EXIT_APPROVED, EXIT_NOT_APPROVED = 0, 1


def register(commands: Any) -> None:
    """Add the `run` subcommand."""
    run = commands.add_parser("run", help="generate, test and review code for one task")
    run.add_argument("task", nargs="?", help="the task, in words (or use --file)")
    run.add_argument("--file", type=Path, help="read the task from this file")
    add_run_options(run)
    run.add_argument("--json", action="store_true", help="print the report as JSON on stdout")


def handle(args: argparse.Namespace, err: Console) -> int:
    """Run the task, write its folder, print a summary (or the JSON report)."""
    task = check_task(read_task(args))
    context = context_from(args)
    chat_model(context)  # fail fast on a bad spec or model file, before any progress shows
    chat_model(context, "reviewer")  # and the reviewer's, if it has its own
    with open_store(args.out) as store:  # a durable run: `codeloop resume RUN_ID` after a stop
        record = create_run(store, task, context, args.out)
        result = run_live(store, record, context, err, resume_hint(record.run_id, args.out))
    report = write_run(record, result)
    show_outcome(err, report, Path(record.result_dir), args.json)
    return EXIT_APPROVED if result.status == "approved" else EXIT_NOT_APPROVED


def read_task(args: argparse.Namespace) -> str:
    """The task from the argument or --file; exactly one of them."""
    if args.file and args.task:
        raise ValueError("give the task as an argument or with --file, not both")
    if args.file:
        try:
            return str(args.file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"cannot read task file {args.file}: {exc}") from None
    if args.task is None:
        raise ValueError('no task: codeloop run "TASK" or codeloop run --file TASK.md')
    return str(args.task)
