"""`codeloop eval BENCHMARK`: pass@1 of single calls, the loop and its peers, by hidden tests.

With `--ray [ADDRESS]` the problems are solved and scored by Ray workers; this process
alone writes results.jsonl and the summary.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from codeloop.batch.ray_cluster import RaySettings
from codeloop.cli.options import add_run_options, context_from
from codeloop.cli.ray_options import add_ray_options, ray_settings, ray_workers
from codeloop.evals.harness import BOTH, MODES, Mode, ResultsLog, pending, run_all, run_all_on
from codeloop.evals.humaneval import Problem, load_problems
from codeloop.evals.prose import load_prose
from codeloop.evals.summary import write_summary
from codeloop.models import chat_model
from codeloop.runs.stopping import run_stoppable

BENCHMARKS = {"humaneval": load_problems, "prose": load_prose}


def register(commands: Any) -> None:
    """Add the `eval` subcommand."""
    ev = commands.add_parser("eval", help="measure the loop against single calls on a benchmark")
    ev.add_argument("benchmark", choices=sorted(BENCHMARKS),
                    help="humaneval (164 problems), or prose (16 tasks stated in sentences)")
    ev.add_argument("--limit", type=_positive, help="number of problems (default all)")
    ev.add_argument("--offset", type=_non_negative, default=0, help="skip the first K problems")
    ev.add_argument("--only", type=_names, metavar="IDS",
                    help="just these problems, by number or name, comma-separated "
                    "(e.g. 32,38 or chunk,median); not with --offset or --limit")
    ev.add_argument(
        "--mode", choices=["single", "loop", "exec", "examples", "both", "all"], default="both",
        help="single calls, the loop, the peers (exec: retry on errors; examples: retry on the "
        "task's examples); both = single and loop; all = every mode (default both)")
    ev.add_argument("--concurrency", type=_positive, default=1,
                    help="problems at once (default 1); with --ray, per worker")
    add_run_options(ev, out="results/eval-<benchmark>")
    add_ray_options(ev)
    ev.set_defaults(out=None)  # resolved from the benchmark's name in handle()


def handle(args: argparse.Namespace, err: Console) -> int:
    """Run what is not done yet, then write the summary over everything done."""
    args.out = args.out or Path("results") / f"eval-{args.benchmark}"
    ray = ray_settings(args)
    problems = _chosen(args)
    modes: tuple[Mode, ...] = {"both": BOTH, "all": MODES}.get(args.mode, (args.mode,))
    context = context_from(args)
    if ray is None:  # on Ray the workers load the models, and say if they cannot
        chat_model(context)  # fail fast on a bad spec or model file
        chat_model(context, "reviewer")  # and the reviewer's, if it has its own
    log = ResultsLog(args.out)
    log.claim(asdict(context))
    done = log.read()
    work = pending(problems, modes, done)
    if len(work) < len(problems) * len(modes):
        err.print(f"resuming: {len(problems) * len(modes) - len(work)} already done in {log.path}")
    errors = _run_with_progress(work, context, log, args.concurrency, err, ray)
    ids = {p.task_id for p in problems}
    records = [r for r in log.read() if r["task_id"] in ids and r["mode"] in modes]
    chosen = (f"{len(problems)} chosen problems" if args.only else
              f"{args.offset}..{args.offset + len(problems) - 1}")
    title = f"{args.benchmark} {chosen}, model {context.model}"
    print(write_summary(records, modes, args.out, title))
    err.print(f"results: {log.path}, {args.out / 'summary.md'}, {args.out / 'chart.png'}")
    if errors:
        err.print(f"[yellow]{errors} run(s) failed, not recorded: rerun to retry them[/yellow]")
    return 0 if not errors else 1


def _chosen(args: argparse.Namespace) -> list[Problem]:
    """The problems to run: `--only`'s, or `--limit` of them from `--offset`."""
    if args.only is None:
        problems = BENCHMARKS[args.benchmark](args.offset, args.limit)
        if not problems:
            there = len(BENCHMARKS[args.benchmark](0, None))
            raise ValueError(
                f"no {args.benchmark} problems at offset {args.offset} (there are {there})")
        return problems
    if args.offset or args.limit:
        raise ValueError("--only picks problems by name: leave out --offset and --limit")
    named = {p.task_id.rsplit("/", 1)[-1]: p for p in BENCHMARKS[args.benchmark](0, None)}
    unknown = sorted(args.only - named.keys())
    if unknown:
        raise ValueError(f"no {args.benchmark} problem named {', '.join(unknown)}")
    return [problem for name, problem in named.items() if name in args.only]


def _run_with_progress(work: list[Any], context: Any, log: ResultsLog, concurrency: int,
                       err: Console, ray: RaySettings | None = None) -> int:
    passed: dict[str, list[bool]] = defaultdict(list)
    errors = 0
    workers = ""
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rates]}"), TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=err) as progress:
        bar = progress.add_task(work[0][0].task_id.split("/")[0] if work else "eval",
                                total=len(work), rates="")

        def show(records: Iterator[dict[str, Any]]) -> None:
            nonlocal errors
            for record in records:
                if "error" in record:
                    errors += 1
                    progress.console.print(
                        f"{record['task_id']} {record['mode']}: {record['error']}"
                    )
                else:
                    passed[record["mode"]].append(record["passed"])
                rates = "  ".join(f"{m} {100 * sum(v) / len(v):.0f}%" for m, v in passed.items())
                progress.update(bar, advance=1, rates=rates + workers)

        def alive(count: int, nodes: int) -> None:
            nonlocal workers
            workers = f"  workers {count}/{len(pool.workers)} on {nodes} node(s)"

        try:
            if ray is None or not work:
                show(run_all(work, context, log, concurrency))
            else:
                with ray_workers(ray, context, log.path.parent, progress.console) as pool:
                    run_stoppable(lambda check: show(
                        run_all_on(pool, work, context, log, check, alive)))
        except KeyboardInterrupt:
            progress.console.print("interrupted: rerun the same command to resume")
            raise
    return errors


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _names(text: str) -> set[str]:
    names = {name.strip() for name in text.split(",") if name.strip()}
    if not names:
        raise argparse.ArgumentTypeError("name at least one problem")
    return names


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value
