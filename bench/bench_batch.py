"""Throughput of `codeloop batch`: 20 tasks, fake model at concurrency 1 vs 8, embedded 1 vs 2.

    python bench/bench_batch.py                 # everything (the embedded part takes minutes)
    python bench/bench_batch.py --no-embedded   # the fake model only (seconds)

The fake model is the `scripted:` backend: with no delay the figures are the machinery's
own cost (sandboxed pytest per task, checkpoints, result files); with a delay per call
they show how concurrency hides model latency, as with a TGI server. The embedded model
runs in-process; it is loaded before timing starts, once for both settings. Every
setting runs the batch in a fresh folder through the same code as `codeloop batch`.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from codeloop.batch.outcome import BatchRun
from codeloop.batch.runner import Batch
from codeloop.batch.tasks import BatchTask
from codeloop.context import Context
from codeloop.models import chat_model
from codeloop.runs.store import RunRecord, context_of_run, open_store

# The fake model's answers: a correct add(), two passing tests, an approving verdict.
RULES = [
    {"call": "solution", "reply": "```python\ndef add(a, b):\n    return a + b\n```"},
    {"call": "tests", "reply": "```python\nfrom solution import *\n\n\ndef test_add():\n"
                               "    assert add(1, 2) == 3\n    assert add(0, 0) == 0\n```"},
    {"call": "review", "reply": json.dumps(
        {"issues": [], "suggestions": [], "score": 9, "approved": True})},
]

SMALL_TASKS = [
    "Write a function add(a, b) that returns a + b.",
    "Write a function subtract(a, b) that returns a - b.",
    "Write a function multiply(a, b) that returns a * b.",
    "Write a function is_even(n) that returns True if n is even.",
    "Write a function is_odd(n) that returns True if n is odd.",
    "Write a function square(n) that returns n * n.",
    "Write a function cube(n) that returns n ** 3.",
    "Write a function double(n) that returns 2 * n.",
    "Write a function negate(n) that returns -n.",
    "Write a function is_positive(n) that returns True if n > 0.",
    "Write a function maximum(a, b) that returns the larger of a and b.",
    "Write a function minimum(a, b) that returns the smaller of a and b.",
    "Write a function list_sum(xs) that returns the sum of a list of numbers.",
    "Write a function first(xs) that returns the first item of a non-empty list.",
    "Write a function last(xs) that returns the last item of a non-empty list.",
    "Write a function length(s) that returns the number of characters in s.",
    "Write a function shout(s) that returns s in upper case.",
    "Write a function reverse(s) that returns the string s reversed.",
    "Write a function halve(n) that returns n / 2.",
    "Write a function is_zero(n) that returns True if n == 0.",
]


def run_once(tasks: list[BatchTask], base: Context, concurrency: int) -> tuple[float, BatchRun]:
    """One batch in a fresh folder; its wall-clock seconds and what it did."""

    def context_for(_: BatchTask, record: RunRecord) -> Context:
        return context_of_run(record)

    with tempfile.TemporaryDirectory(prefix="bench-batch-") as folder:
        out = Path(folder) / "out"
        with open_store(out) as store:
            batch = Batch(store, tasks, out, base, context_for)
            started = time.perf_counter()
            run = batch.run(batch.plan(), concurrency)
            seconds = time.perf_counter() - started
    if run.interrupted or any(o.status in ("error", "pending") for o in run.outcomes):
        raise SystemExit(f"the batch did not finish: {[o.error for o in run.outcomes]}")
    return seconds, run


def compare(label: str, tasks: list[BatchTask], base: Context, settings: tuple[int, int]) -> None:
    """Run the batch at both concurrency settings and print the figures and the ratio."""
    seconds = {}
    for concurrency in settings:
        seconds[concurrency], run = run_once(tasks, base, concurrency)
        approved = sum(o.status == "approved" for o in run.outcomes)
        print(f"{label:<34} concurrency {concurrency}: {seconds[concurrency]:7.2f} s  "
              f"{len(tasks) / seconds[concurrency] * 60:7.1f} tasks/min  "
              f"({approved}/{len(tasks)} approved; load average {os.getloadavg()[0]:.1f})",
              flush=True)
    low, high = settings
    print(f"{label:<34} speed-up {low} -> {high}: x{seconds[low] / seconds[high]:.2f}", flush=True)


def fake_model(folder: Path, delay: float) -> str:
    script = folder / f"script-{delay}.json"
    script.write_text(json.dumps({"delay": delay, "rules": RULES}))
    return f"scripted:{script}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--delays", type=float, nargs="+", default=[0.0, 0.2],
                        help="fake model seconds per call (default 0 and 0.2)")
    parser.add_argument("--embedded-tasks", type=int, default=20,
                        help="tasks in the embedded model's batch (default 20)")
    parser.add_argument("--no-embedded", action="store_true", help="skip the embedded model")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start", flush=True)
    fake_tasks = [BatchTask(f"t{n:02d}", f"Task T{n:02d}: write add(a, b).", 1, n)
                  for n in range(args.tasks)]
    with tempfile.TemporaryDirectory() as folder:
        for delay in args.delays:
            base = Context(model=fake_model(Path(folder), delay), max_iterations=1)
            compare(f"fake model, {delay:.2f} s/call", fake_tasks, base, (1, 8))
    if args.no_embedded:
        return
    tasks = [BatchTask(f"e{n:02d}", SMALL_TASKS[n % len(SMALL_TASKS)], 1, n)
             for n in range(args.embedded_tasks)]
    # A generous per-call budget: at concurrency 2 a call's clock also runs while it
    # waits for the engine lock, and on a busy machine that wait is long.
    base = Context(model="local", max_iterations=1, max_new_tokens=256, model_timeout=3600)
    started = time.perf_counter()
    chat_model(base)
    print(f"embedded model loaded in {time.perf_counter() - started:.1f} s", flush=True)
    compare("embedded Qwen2.5-Coder-0.5B", tasks, base, (1, 2))


if __name__ == "__main__":
    main()
