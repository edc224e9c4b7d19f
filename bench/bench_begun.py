"""What a reply begun with the task's stub saves: a HumanEval solution asked both ways.

    .venv/bin/python bench/bench_begun.py [--offset 0] [--problems 20] [--temperature 0]

The loop begins a retry's reply with the task's code (nodes.generate.solution_request), so
the embedded model writes the function's body, not the signature and docstring first. This
asks each problem's solution as a single call does and with the begun reply, interleaved
problem by problem, at one temperature (the loop's retries sample at 0.7), scores both with
the hidden tests, and prints the passes, mean seconds and tokens written of each, and the
problems where the two disagree.
"""

from __future__ import annotations

import argparse
import statistics
import time

from langchain_core.messages import AIMessage

from codeloop.context import Context
from codeloop.evals.humaneval import load_problems, score
from codeloop.models import load_model
from codeloop.nodes.common import prompts_for
from codeloop.nodes.extract import begun_solution, extract
from codeloop.nodes.generate import ask_model

KINDS = ("asked", "begun")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--problems", type=int, default=20)
    parser.add_argument("--temperature", type=float, default=0.0)
    args = parser.parse_args()
    context = Context(temperature=args.temperature)
    model = load_model("local")
    prompts = prompts_for(model)
    rows: dict[str, list[tuple[bool, float, int]]] = {kind: [] for kind in KINDS}
    problems = load_problems(args.offset, args.problems)
    for problem in problems:
        asked = prompts.generation(problem.prompt, "", None, None)
        start = begun_solution(problem.prompt)
        for kind, messages in zip(KINDS, (asked, [*asked, AIMessage(start)]), strict=True):
            started = time.perf_counter()
            reply = ask_model(model, messages, context, 0, context.max_new_tokens,
                              list(prompts.stop))
            seconds = time.perf_counter() - started
            passed = score(problem, extract(reply.text).code).status == "passed"
            rows[kind].append((passed, seconds, reply.usage_metadata["output_tokens"]))
    base = statistics.mean(s for _, s, _ in rows["asked"])
    print(f"{'reply':<7} {'passed':>7} {'mean s':>7} {'vs asked':>9} {'tokens written':>15}"
          f"   ({len(problems)} problems from {args.offset}, temperature {args.temperature:g})")
    for kind, runs in rows.items():
        seconds = statistics.mean(s for _, s, _ in runs)
        print(f"{kind:<7} {sum(p for p, _, _ in runs):7d} {seconds:7.2f} {seconds / base:8.2f}x "
              f"{statistics.mean(t for _, _, t in runs):15.0f}")
    for kind, other in (KINDS, KINDS[::-1]):
        only = [p.task_id for p, mine, theirs in zip(problems, rows[kind], rows[other], strict=True)
                if mine[0] and not theirs[0]]
        print(f"right only {kind}: {', '.join(only) or 'none'}")


if __name__ == "__main__":
    main()
