"""`codeloop resume RUN_ID`: continue an interrupted run from its last checkpoint."""

from __future__ import annotations

import argparse
import json
import os
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from codeloop.context import Context
from codeloop.durable import context_of_run, drive, write_run, written_report
from codeloop.stopping import run_stoppable
from codeloop.store import DB_ENV, RunRecord, Store, open_store
from codeloop.view import LiveView
from codeloop.workflow import Progress, RunResult

EXIT_APPROVED, EXIT_NOT_APPROVED = 0, 1


def register(commands: Any) -> None:
    """Add the `resume` subcommand."""
    resume = commands.add_parser("resume", help="continue an interrupted run where it stopped")
    resume.add_argument("run_id", metavar="RUN_ID", help="the run's id (see codeloop runs)")
    add_store_options(resume)
    resume.add_argument("--model", help="use this model spec instead of the run's own")
    resume.add_argument("--json", action="store_true", help="print the report as JSON on stdout")


def add_store_options(parser: argparse.ArgumentParser) -> None:
    """Where the run database is: the results folder's codeloop.db, or $CODELOOP_DB."""
    parser.add_argument("--out", type=Path, default=Path("results"),
                        help="results folder holding codeloop.db (default results)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")


def find_run(store: Store, run_id: str, out: Path) -> RunRecord:
    """The run with this id, or a ValueError that says where to look."""
    record = store.get(run_id)
    if record is None:
        listing = shlex.join(["codeloop", "runs", *out_option(out)])
        raise ValueError(f"no run {run_id!r} in {store.location}: `{listing}` lists them")
    return record


def handle(args: argparse.Namespace, err: Console) -> int:
    """Finish the run (or, if it had finished, just report it) and write its folder."""
    with open_store(args.out, create=False) as store:
        record = find_run(store, args.run_id, args.out)
        report = written_report(record)
        if report is None:
            context = context_of_run(record, model=args.model)
            context.chat_model()
            hint = resume_hint(record.run_id, args.out)
            report = write_run(record, run_live(store, record, context, err, hint))
        else:
            err.print(f"run {record.run_id} had already finished", highlight=False)
    show_outcome(err, report, Path(record.result_dir), args.json)
    return EXIT_APPROVED if report["status"] == "approved" else EXIT_NOT_APPROVED


def run_live(
    store: Store, record: RunRecord, context: Context, err: Console, hint: str
) -> RunResult:
    """Drive the run with the live view; Ctrl-C prints `hint`, how to pick it up again.

    Ctrl-C lets the node in progress finish and be saved first (see codeloop.stopping).
    """
    try:
        with LiveView(err) as view:
            return run_stoppable(
                lambda check: drive(store, record, context, checked(check, view.update)),
                lambda: err.print("stopping after the current step (Ctrl-C again to quit now)"),
            )
    except KeyboardInterrupt:
        err.print(f"stopped; continue with: {hint}", highlight=False, markup=False)
        raise


def checked(
    check: Callable[[], None], show: Callable[[Progress], None]
) -> Callable[[Progress], None]:
    """A progress callback that first gives a requested stop its chance to happen."""

    def update(progress: Progress) -> None:
        check()
        show(progress)

    return update


def resume_hint(run_id: str, out: Path) -> str:
    """The command that resumes run `run_id` whose database is in results folder `out`."""
    return shlex.join(["codeloop", "resume", run_id, *out_option(out)])


def out_option(out: Path) -> list[str]:
    """`--out DIR` when it is needed to find the run database again."""
    return [] if out == Path("results") or os.environ.get(DB_ENV) else ["--out", str(out)]


def show_outcome(err: Console, report: dict[str, Any], folder: Path, as_json: bool) -> None:
    """The report as JSON on stdout, or a short human summary on stderr."""
    if as_json:
        print(json.dumps(report, indent=2))
        return
    status = str(report["status"])
    colour = "green" if status == "approved" else "yellow"
    err.print(f"[{colour}]{status}[/{colour}] after {report['iterations']} iteration(s) "
              f"in {report['seconds']}s", highlight=False)
    final = report.get("final") or {}
    if final.get("report"):
        err.print(f"tests: {final['report']['passed']}/{final['report']['total']} passed")
    err.print(f"results: {display_path(folder)}", highlight=False)


def display_path(path: Path) -> str:
    """A path relative to the working directory when it is under it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return os.fspath(path)
