"""Options and helpers shared by the subcommands that run the loop."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from codeloop.context import Context


def add_run_options(parser: argparse.ArgumentParser, out: str = "results") -> None:
    """Options shared by every command that runs the loop."""
    parser.add_argument("--model", help="model spec: local, local:PATH.gguf, tgi:URL")
    defaults = Context()
    parser.add_argument(
        "--max-iterations",
        type=int,
        help=f"rounds before giving up (default {defaults.max_iterations})",
    )
    parser.add_argument(
        "--retry-temperature",
        type=float,
        help=f"sampling temperature for retries (default {defaults.retry_temperature})",
    )
    parser.add_argument("--out", type=Path, default=Path(out), help=f"output folder ({out})")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")


def context_from(args: argparse.Namespace, **extra: Any) -> Context:
    """A Context from the options given; anything not given keeps its default."""
    given = {
        "model": args.model,
        "max_iterations": args.max_iterations,
        "retry_temperature": args.retry_temperature,
        **extra,
    }
    return Context(**{k: v for k, v in given.items() if v is not None})
