"""The `codeloop` command line.

Exit codes: 0 approved, 1 not approved within the budget, 2 bad input or setup error
(one line on stderr, the traceback only with --debug), 130 interrupted.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape

from codeloop import __version__
from codeloop.cli import batch, resume, run, runs, show
from codeloop.cli import eval as eval_command

EXIT_ERROR, EXIT_INTERRUPTED = 2, 130
COMMANDS = {
    "run": run,
    "eval": eval_command,
    "batch": batch,
    "resume": resume,
    "runs": runs,
    "show": show,
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="codeloop", description="Task description in, tested and reviewed Python code out."
    )
    parser.add_argument("--version", action="version", version=f"codeloop {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS.values():
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `codeloop` script."""
    args = build_parser().parse_args(argv)
    err = Console(stderr=True)
    try:
        return int(COMMANDS[args.command].handle(args, err))
    except KeyboardInterrupt:
        err.print("interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:  # the one place every failure becomes a one-line message
        if getattr(args, "debug", False):
            raise
        # escaped: a message such as "pip install 'codeloop[openai]'" is not markup
        err.print(f"[red]error:[/red] {escape(one_line(exc))}", highlight=False, soft_wrap=True)
        return EXIT_ERROR


def one_line(exc: BaseException) -> str:
    """An exception as one line: its message, or its type when it has none."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
