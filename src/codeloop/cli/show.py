"""`codeloop show RUN_ID`: one run in full: its attempts, their verdicts, the final code."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console

from codeloop.cli.options import add_store_options, display_path, find_run
from codeloop.runs.durable import run_status
from codeloop.runs.store import open_store
from codeloop.state import Attempt


def register(commands: Any) -> None:
    """Add the `show` subcommand."""
    show = commands.add_parser("show", help="print a run: attempts, verdicts, final code")
    show.add_argument("run_id", metavar="RUN_ID", help="the run's id (see codeloop runs)")
    add_store_options(show)
    show.add_argument("--json", action="store_true", help="print the run's state as JSON")


def handle(args: argparse.Namespace, err: Console) -> int:
    """Print the run from its checkpoint (so an unfinished run shows its attempts so far)."""
    with open_store(args.out, create=False) as store:
        record = find_run(store, args.run_id, args.out)
        status, values = run_status(store, record.run_id)
    if args.json:
        print(json.dumps({"run_id": record.run_id, "task": record.task, "status": status,
                          "folder": record.result_dir, **values}, indent=2, default=str))
        return 0
    print(f"run {record.run_id}: {status}")
    print(f"results: {display_path(Path(record.result_dir))}")
    print(f"task: {record.task}")
    attempts: list[Attempt] = values.get("attempts") or []
    for attempt in attempts:
        print()
        print("\n".join(describe_attempt(attempt)))
    final = values.get("final")
    if final:
        print(f"\nfinal code (attempt {final['iteration']}):\n{final['code'].rstrip()}")
    elif not attempts:
        print("\nno attempt finished yet")
    return 0


def describe_attempt(attempt: Attempt) -> list[str]:
    """Lines for one attempt: tests, verdict, issues, and why it failed if it did."""
    report = attempt.get("report")
    tests = (f"tests {report['passed']}/{report['total']} {report['status']}" if report
             else "no tests")
    verdict = attempt.get("verdict")
    review = f"review {verdict['score']}/10" if verdict else "no review"
    outcome = "approved" if attempt.get("approved") else "not approved"
    lines = [f"attempt {attempt['iteration']}: {tests} · {review} · {outcome}"]
    if attempt.get("parse_error"):
        lines.append(f"  unusable reply: {attempt['parse_error']}")
    if attempt.get("review_error"):
        lines.append(f"  review: {attempt['review_error']}")
    for test in report["tests"] if report else []:
        if test["outcome"] in ("failed", "error"):
            first = next((line for line in test["message"].splitlines() if line.strip()), "")
            lines.append(f"  {test['name']} {test['outcome']}: {first.strip()[:160]}")
    lines += [f"  rule untested: {rule}" for rule in attempt.get("untested_rules", [])]
    lines += [f"  rule not met: {answer['text']}" for answer in
              (verdict.get("rules", []) if verdict else []) if not answer["met"]]
    for issue in verdict["issues"] if verdict else []:
        lines.append(f"  issue: {issue}")
    return lines
