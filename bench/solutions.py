"""What the solution benches share: one HumanEval solution asked, timed and scored, and the
table that sets several ways of asking side by side (bench_begun, bench_prompts,
bench_ceiling)."""

from __future__ import annotations

import statistics
import time
from typing import Any

from codeloop.context import Context
from codeloop.evals.humaneval import Problem, score
from codeloop.nodes.extract import extract
from codeloop.nodes.generate import ask_model

Row = tuple[bool, float, int]  # right, seconds, tokens written


def solve(model: Any, messages: list[Any], context: Context, stop: list[str],
          problem: Problem) -> Row:
    """Ask one solution as a first attempt is asked; whether the hidden tests pass it."""
    started = time.perf_counter()
    reply = ask_model(model, messages, context, 0, context.max_new_tokens, stop)
    seconds = time.perf_counter() - started
    return right(problem, reply.text), seconds, reply.usage_metadata["output_tokens"]


def right(problem: Problem, text: str) -> bool:
    """Whether the hidden tests pass the code of one reply."""
    return score(problem, extract(text).code).status == "passed"


def print_table(rows: dict[str, list[Row]], base: str, label: str, note: str) -> None:
    """Passes, mean seconds (and as a ratio of `base`'s) and tokens written, one line a way."""
    width = max(len(label), *map(len, rows))
    base_seconds = statistics.mean(s for _, s, _ in rows[base])
    print(f"{label:<{width}} {'passed':>7} {'mean s':>7} {'vs ' + base:>10} {'tokens written':>15}"
          f"   ({note})")
    for kind, runs in rows.items():
        seconds = statistics.mean(s for _, s, _ in runs)
        print(f"{kind:<{width}} {sum(p for p, _, _ in runs):7d} {seconds:7.2f} "
              f"{seconds / base_seconds:9.2f}x {statistics.mean(t for _, _, t in runs):15.0f}")


def right_only(problems: list[Problem], mine: list[Row], theirs: list[Row]) -> str:
    """The problems right in `mine` and not in `theirs`, as a comma-separated list."""
    only = [p.task_id for p, a, b in zip(problems, mine, theirs, strict=True) if a[0] and not b[0]]
    return ", ".join(only) or "none"
