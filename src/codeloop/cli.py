"""The `codeloop` command: run one task (more subcommands arrive with their issues).

Exit codes: 0 approved, 1 not approved within the budget, 2 bad input or setup error
(one line on stderr, the traceback only with --debug), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from codeloop import __version__
from codeloop.context import Context
from codeloop.results import new_result_dir, write_result
from codeloop.view import LiveView
from codeloop.workflow import run_task

EXIT_APPROVED, EXIT_NOT_APPROVED, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(prog="codeloop", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"codeloop {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="generate, test and review code for one task")
    run.add_argument("task", nargs="?", help="the task, in words (or use --file)")
    run.add_argument("--file", type=Path, help="read the task from this file")
    add_run_options(run)
    run.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    return parser


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by every command that runs the loop."""
    parser.add_argument("--model", help="model spec: local, local:PATH.gguf, tgi:URL")
    parser.add_argument("--max-iterations", type=int, help="rounds before giving up (default 3)")
    parser.add_argument("--out", type=Path, default=Path("results"), help="results folder")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `codeloop` script."""
    args = build_parser().parse_args(argv)
    err = Console(stderr=True)
    try:
        return COMMANDS[args.command](args, err)
    except KeyboardInterrupt:
        err.print("interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:  # the one place every failure becomes a one-line message
        if args.debug:
            raise
        err.print(f"[red]error:[/red] {one_line(exc)}", highlight=False)
        return EXIT_ERROR


def one_line(exc: BaseException) -> str:
    """An exception as one line: its message, or its type when it has none."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def run_command(args: argparse.Namespace, err: Console) -> int:
    """`codeloop run`: one task through the loop, written to a results folder."""
    task = read_task(args)
    context = Context(
        **{k: v for k, v in {"model": args.model, "max_iterations": args.max_iterations}.items() if v}
    )
    with LiveView(err) as view:
        result = run_task(task, context, on_progress=view.update)
    folder = new_result_dir(args.out, result.task)
    report = write_result(folder, result)
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


def print_summary(console: Console, report: dict[str, object], folder: Path) -> None:
    """A short human summary of a finished run."""
    status = str(report["status"])
    colour = "green" if status == "approved" else "yellow"
    console.print(
        f"[{colour}]{status}[/{colour}] after {report['iterations']} iteration(s) "
        f"in {report['seconds']}s",
        highlight=False,
    )
    final = report.get("final") or {}
    if isinstance(final, dict) and final.get("report"):
        r = final["report"]
        console.print(f"tests: {r['passed']}/{r['total']} passed", highlight=False)
    console.print(f"results: {folder}", highlight=False)


COMMANDS = {"run": run_command}


if __name__ == "__main__":
    sys.exit(main())
