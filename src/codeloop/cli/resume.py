"""`codeloop resume RUN_ID`: continue an interrupted run from its last checkpoint."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console

from codeloop.cli.live import run_live
from codeloop.cli.options import add_store_options, find_run, resume_hint, show_outcome
from codeloop.models import chat_model
from codeloop.runs.folders import write_run, written_report
from codeloop.runs.store import context_of_run, open_store

EXIT_APPROVED, EXIT_NOT_APPROVED = 0, 1


def register(commands: Any) -> None:
    """Add the `resume` subcommand."""
    resume = commands.add_parser("resume", help="continue an interrupted run where it stopped")
    resume.add_argument("run_id", metavar="RUN_ID", help="the run's id (see codeloop runs)")
    add_store_options(resume)
    resume.add_argument("--model", help="use this model spec instead of the run's own")
    resume.add_argument("--reviewer-model", metavar="SPEC",
                        help="use this reviewer model spec instead of the run's own")
    resume.add_argument("--json", action="store_true", help="print the report as JSON on stdout")


def handle(args: argparse.Namespace, err: Console) -> int:
    """Finish the run (or, if it had finished, just report it) and write its folder."""
    with open_store(args.out, create=False) as store:
        record = find_run(store, args.run_id, args.out)
        report = written_report(record)
        if report is None:
            context = context_of_run(
                record, model=args.model, reviewer_model=args.reviewer_model
            )
            chat_model(context)
            chat_model(context, "reviewer")  # and the reviewer's, if it has its own
            hint = resume_hint(record.run_id, args.out)
            report = write_run(record, run_live(store, record, context, err, hint))
        else:
            err.print(f"run {record.run_id} had already finished", highlight=False)
    show_outcome(err, report, Path(record.result_dir), args.json)
    return EXIT_APPROVED if report["status"] == "approved" else EXIT_NOT_APPROVED
