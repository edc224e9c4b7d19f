"""What the subcommands share: their options, where runs live, how an outcome is shown."""

from __future__ import annotations

import argparse
import json
import os
import shlex
from pathlib import Path
from typing import Any

from rich.console import Console

from codeloop.context import Context
from codeloop.runs.store import DB_ENV, RunRecord, Store


def add_run_options(parser: argparse.ArgumentParser, out: str = "results") -> None:
    """Options shared by every command that runs the loop."""
    parser.add_argument(
        "--model",
        help="generator's model spec: local, local:PATH.gguf, tgi:URL, PROVIDER:MODEL, "
        "scripted:PATH.json (default: $CODELOOP_MODEL, else local)",
    )
    parser.add_argument(
        "--reviewer-model", metavar="SPEC", help="reviewer's model spec (default: the --model)"
    )
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
    parser.add_argument(
        "--retry-candidates",
        type=int,
        metavar="N",
        help="solutions a retry writes at once, the one passing most of the task's examples "
        f"kept; more than one make it the last retry (default {defaults.retry_candidates})",
    )
    parser.add_argument(
        "--opinion-candidates",
        type=int,
        metavar="N",
        help="solutions a second opinion (a retry settling a dispute with the model's tests) "
        f"writes at once (default {defaults.opinion_candidates})",
    )
    parser.add_argument(
        "--examples-suffice",
        type=int,
        metavar="N",
        help="tasks with N or more examples get no model-written tests; above 10, always "
        f"write them (default {defaults.examples_suffice})",
    )
    parser.add_argument("--out", type=Path, default=Path(out), help=f"output folder ({out})")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")


def context_from(args: argparse.Namespace, **extra: Any) -> Context:
    """A Context from the options given; anything not given keeps its default."""
    given = {
        "model": args.model,
        "reviewer_model": args.reviewer_model,
        "max_iterations": args.max_iterations,
        "retry_temperature": args.retry_temperature,
        "retry_candidates": args.retry_candidates,
        "opinion_candidates": args.opinion_candidates,
        "examples_suffice": args.examples_suffice,
        **extra,
    }
    return Context(**{k: v for k, v in given.items() if v is not None})


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
    for rule in final.get("untested_rules", []):
        err.print(f"no test covers this stated rule: {rule}", highlight=False, markup=False)
    err.print(f"results: {display_path(folder)}", highlight=False)


def display_path(path: Path) -> str:
    """A path relative to the working directory when it is under it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return os.fspath(path)
