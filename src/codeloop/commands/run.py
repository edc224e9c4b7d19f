"""`codeloop run`: one task through the loop, written to a results folder."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console

from codeloop.commands.common import add_run_options, context_from
from codeloop.commands.resume import display_path, resume_hint, run_live
from codeloop.durable import create_run, write_run
from codeloop.state import check_task
from codeloop.store import open_store

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
    context.chat_model()  # fail fast on a bad spec or model file, before any progress shows
    with open_store(args.out) as store:  # a durable run: `codeloop resume RUN_ID` after a stop
        record = create_run(store, task, context, args.out)
        result = run_live(store, record, context, err, resume_hint(record.run_id, args.out))
    report = write_run(record, result)
    folder = Path(record.result_dir)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_summary(err, report, folder)
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


def print_summary(console: Console, report: dict[str, Any], folder: Path) -> None:
    """A short human summary of a finished run."""
    status = str(report["status"])
    colour = "green" if status == "approved" else "yellow"
    console.print(
        f"[{colour}]{status}[/{colour}] after {report['iterations']} iteration(s) "
        f"in {report['seconds']}s",
        highlight=False,
    )
    final = report.get("final") or {}
    if final.get("report"):
        console.print(f"tests: {final['report']['passed']}/{final['report']['total']} passed")
    console.print(f"results: {display_path(folder)}", highlight=False)
