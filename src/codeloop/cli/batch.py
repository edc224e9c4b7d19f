"""`codeloop batch TASKS.jsonl`: every task of a file, concurrently; rerun the command to resume.

With `--ray [ADDRESS]` the runs go to Ray workers (codeloop.batch.ray_runner); everything
else (the plan, the result folders, the summary, resuming) is the same.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from codeloop.batch.outcome import BatchRun
from codeloop.batch.ray_cluster import RaySettings, check_run_database
from codeloop.batch.runner import STOP_GRACE_SECONDS, Batch, Plan, exclusive
from codeloop.batch.summary import summary_of, write_summary
from codeloop.batch.tasks import BatchTask, load_tasks
from codeloop.cli.batch_view import BatchView, clock
from codeloop.cli.options import add_run_options, context_from
from codeloop.cli.ray_options import add_ray_options, ray_settings, ray_words, ray_workers
from codeloop.context import Context
from codeloop.models import chat_model
from codeloop.runs.stopping import run_stoppable
from codeloop.runs.store import RunRecord, context_of_run, ensure_writable, open_store

EXIT_COMPLETE, EXIT_INCOMPLETE, EXIT_INTERRUPTED = 0, 1, 130
MAX_CONCURRENCY = 64


def register(commands: Any) -> None:
    """Add the `batch` subcommand."""
    batch = commands.add_parser(
        "batch", help="run every task of a JSONL file (rerun the same command to resume)"
    )
    batch.add_argument("tasks_file", type=Path, metavar="TASKS.jsonl",
                       help='one task per line: {"id": ..., "task": ..., "max_iterations"?: ...}')
    batch.add_argument("--concurrency", type=int, default=1,
                       help="tasks run at once (default 1); with --ray, per worker")
    add_run_options(batch, out="results/<name of the tasks file>")
    add_ray_options(batch)
    batch.set_defaults(out=None)  # resolved from the tasks file's name in handle()


def handle(args: argparse.Namespace, err: Console) -> int:
    """Run the batch, write its summary, say how it went (and how to resume if stopped)."""
    if not 1 <= args.concurrency <= MAX_CONCURRENCY:
        raise ValueError(f"--concurrency must be 1-{MAX_CONCURRENCY}, got {args.concurrency}")
    ray = ray_settings(args)
    tasks, problems = load_tasks(args.tasks_file)
    out: Path = args.out or Path("results") / args.tasks_file.stem
    for problem in problems:
        err.print(f"skipped {problem}", highlight=False, markup=False, soft_wrap=True)
    if not tasks:
        raise ValueError(f"no valid task in {args.tasks_file}: nothing to run")
    base = context_from(args)
    ensure_writable(out)
    if ray is None:
        chat_model(base)  # a bad spec fails here; the model loads once, before any thread starts
        chat_model(base, "reviewer")  # and the reviewer's, if it has its own
    else:
        check_run_database(ray)  # the workers load the models; they must reach the runs

    def context_for(_: BatchTask, record: RunRecord) -> Context:
        return context_of_run(record, model=args.model, reviewer_model=args.reviewer_model)

    with exclusive(out), open_store(out) as store:
        batch = Batch(store, tasks, out, base, context_for)
        plan = batch.plan()
        for conflict in plan.conflicts.values():
            err.print(f"skipped {conflict}", highlight=False, markup=False, soft_wrap=True)
        approved = sum(o.status == "approved" for o in plan.done)
        total = len(tasks) - len(plan.conflicts)
        if plan.done:
            err.print(f"{len(plan.done)} of {total} tasks already finished; running the other "
                      f"{len(plan.todo)}", highlight=False)
        if ray is not None and plan.todo:
            run = on_ray(err, batch, plan, ray, (total, len(plan.done), approved))
        else:
            with BatchView(err, total, len(plan.done), approved) as view:
                run = run_stoppable(
                    lambda check: batch.run(plan, args.concurrency, view.advance, check),
                    lambda: stopping(err),
                )
        run.problems = problems + run.problems
        write_summary(out, summary_of(args.tasks_file, run, args.concurrency))
    return finish(err, args, out, run)


def stopping(err: Console) -> None:
    """Say that Ctrl-C was heard and what happens now."""
    err.print(f"stopping: no new task starts; runs in flight get {STOP_GRACE_SECONDS:g} s to "
              "save (Ctrl-C again to quit now)")


def on_ray(err: Console, batch: Batch, plan: Plan, settings: RaySettings,
           counts: tuple[int, int, int]) -> BatchRun:
    """Run the plan on Ray workers; this process writes every result as it comes back."""
    from codeloop.batch.ray_runner import RayBatch

    with ray_workers(settings, batch.base, batch.out, err) as pool, \
            BatchView(err, *counts, workers=len(pool.workers)) as view:
        ray_batch = RayBatch(batch, pool, settings)
        return run_stoppable(
            lambda check: ray_batch.run(plan, view.advance, check, view.workers_alive),
            lambda: stopping(err),
        )


def finish(err: Console, args: argparse.Namespace, out: Path, run: BatchRun) -> int:
    """The closing lines and the exit code; an interrupted batch says how to resume."""
    counts = {s: sum(o.status == s for o in run.outcomes) for s in ("approved", "not_approved",
                                                                   "error", "pending")}
    listed = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    err.print(f"batch: {listed} of {len(run.outcomes)} in {clock(run.seconds)} · summary: "
              f"{out / 'summary.md'}", highlight=False, markup=False, soft_wrap=True)
    if run.interrupted:
        err.print(f"interrupted: rerun to resume where it stopped: {resume_command(args, out)}",
                  highlight=False, markup=False, soft_wrap=True)
        if run.abandoned:  # runs still inside a model call: they resume from their checkpoint
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(EXIT_INTERRUPTED)
        return EXIT_INTERRUPTED
    complete = not run.problems and counts["error"] == counts["pending"] == 0
    return EXIT_COMPLETE if complete else EXIT_INCOMPLETE


def resume_command(args: argparse.Namespace, out: Path) -> str:
    """The command that resumes this batch."""
    words = ["codeloop", "batch", str(args.tasks_file), "--out", str(out)]
    if args.concurrency != 1:
        words += ["--concurrency", str(args.concurrency)]
    if args.model:
        words += ["--model", args.model]
    if args.reviewer_model:
        words += ["--reviewer-model", args.reviewer_model]
    if args.max_iterations:
        words += ["--max-iterations", str(args.max_iterations)]
    return shlex.join(words + ray_words(args))
