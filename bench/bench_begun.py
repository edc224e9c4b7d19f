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

from langchain_core.messages import AIMessage
from solutions import Row, print_table, right_only, solve

from codeloop.context import Context
from codeloop.evals.humaneval import load_problems
from codeloop.models import load_model
from codeloop.nodes.common import prompts_for
from codeloop.nodes.extract import begun_solution

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
    rows: dict[str, list[Row]] = {kind: [] for kind in KINDS}
    problems = load_problems(args.offset, args.problems)
    for problem in problems:
        asked = prompts.generation(problem.prompt, "", None, None)
        start = begun_solution(problem.prompt)
        for kind, messages in zip(KINDS, (asked, [*asked, AIMessage(start)]), strict=True):
            rows[kind].append(solve(model, messages, context, list(prompts.stop), problem))
    print_table(rows, "asked", "reply", f"{len(problems)} problems from {args.offset}, "
                f"temperature {args.temperature:g}")
    for kind, other in (KINDS, KINDS[::-1]):
        print(f"right only {kind}: {right_only(problems, rows[kind], rows[other])}")

if __name__ == "__main__":
    main()
