"""What one part of the loop adds: the loop run with it switched off, against a full run.

    .venv/bin/python bench/bench_ablation.py examples --against results/he164-c4/results.jsonl \
        -- --limit 82 --out results/abl-examples

Parts with an option of their own are switched off with `codeloop eval`'s options
(`--examples-suffice 11`: model tests on every task; `--retry-candidates 1`,
`--opinion-candidates 1`, `--retry-temperature 0`). Three have none, because no user
should turn them off; this switches them off in this process only:

- examples: the task's examples are not read as checks, so the loop judges by the
  model's tests and the task's sentences as rules, as it does a task stated in prose;
- rules: the task's sentences are not rules (no rule tests, no checks read from them, no
  per-rule review);
- review: no reviewer call; an attempt that reaches review (every check passing) is
  approved, as the reviewer would with score 10 and every rule met.

What follows `--` goes to `codeloop eval BENCHMARK --mode loop` (`--benchmark`, default
humaneval; use a new `--out`: the switch is not in settings.json). Then it prints, on the
problems run, the loop without the part against the `--against` records: right, approved,
approved but wrong, right but not approved, seconds and tokens, and what changed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

from codeloop.cli import main as codeloop
from codeloop.evals.harness import RESULTS_FILE, ResultsLog
from codeloop.evals.summary import summarize
from codeloop.nodes.review import Verdict
from codeloop.state import Attempt


@contextmanager
def switched_off(part: str) -> Iterator[None]:
    """Patch the loop's modules so that `part` does nothing, for this process only."""
    targets = {
        "examples": ["codeloop.nodes.checks.task_examples", "codeloop.nodes.stated.task_examples"],
        "rules": ["codeloop.nodes.rules.stated_rules", "codeloop.nodes.stated.stated_rules"],
    }
    with ExitStack() as stack:
        for target in targets.get(part, []):
            stack.enter_context(mock.patch(target, lambda *args: []))
        if part == "review":
            stack.enter_context(mock.patch("codeloop.nodes.review._ask_reviewer", _approve))
        yield


def _approve(ctx: Any, task: str, attempt: Attempt, rules: list[str],
             tokens: dict[str, int]) -> tuple[Verdict, None]:
    """The verdict a reviewer approving everything it is shown would give, without a call."""
    met = [{"rule": number, "met": True} for number in range(1, len(rules) + 1)]
    return Verdict.model_validate({"rules": met, "score": 10, "approved": True}), None


def loop_records(results: Path) -> dict[str, dict[str, Any]]:
    """The loop's records of a results.jsonl, by task id, read as the harness reads them."""
    return {r["task_id"]: r for r in ResultsLog(results.parent).read() if r["mode"] == "loop"}


def figures(records: list[dict[str, Any]]) -> str:
    """Right, approved (wrong), right not approved, seconds and tokens a problem."""
    loop = summarize(records, "loop")
    approved = sum(r["status"] == "approved" for r in records)
    return (f"right {loop.passed}, approved {approved} ({loop.approved_but_wrong} wrong), right "
            f"not approved {loop.rejected_but_right}, {loop.mean_seconds:.1f} s, "
            f"{loop.mean_tokens:.0f} tokens")


def compare(without: dict[str, dict[str, Any]], full: dict[str, dict[str, Any]],
            part: str) -> None:
    """Print both runs' figures on the problems in both, and what changed."""
    ids = [t for t in full if t in without]  # in the full run's order
    print(f"{len(ids)} problems in both runs")
    print(f"  with {part}:    {figures([full[t] for t in ids])}")
    print(f"  without {part}: {figures([without[t] for t in ids])}")
    for label, changed in (
        ("right only with it", [t for t in ids if full[t]["passed"] > without[t]["passed"]]),
        ("right only without it", [t for t in ids if without[t]["passed"] > full[t]["passed"]]),
        ("verdict changed", [t for t in ids if full[t]["status"] != without[t]["status"]]),
    ):
        print(f"  {label}: {', '.join(t.split('/')[-1] for t in changed) or 'none'}")


def main() -> int:
    """Run the loop with one part switched off, then compare it with the given records."""
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    usage = "%(prog)s PART [--benchmark B] --against RESULTS -- EVAL_OPTIONS"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], usage=usage)
    parser.add_argument("part", choices=["examples", "rules", "review"])
    parser.add_argument("--benchmark", choices=["humaneval", "prose"], default="humaneval")
    parser.add_argument("--against", type=Path, required=True,
                        help="results.jsonl of a run with every part (the same settings)")
    args = parser.parse_args(argv[:split])
    if args.against.name != RESULTS_FILE or not args.against.is_file():
        parser.error(f"no {RESULTS_FILE} at {args.against}")
    forwarded = argv[split + 1:]  # codeloop eval's options (--out, --limit, --only ...)
    out = argparse.ArgumentParser(add_help=False)
    out.add_argument("--out", type=Path, required=True)
    results = out.parse_known_args(forwarded)[0].out / RESULTS_FILE
    with switched_off(args.part):
        status = int(codeloop(["eval", args.benchmark, "--mode", "loop", *forwarded]))
    if status == 0:
        compare(loop_records(results), loop_records(args.against), args.part)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
