"""Which first request gets the most right: HumanEval solutions asked with other wordings.

    .venv/bin/python bench/bench_prompts.py [--offset 0] [--problems 82] [--variants ...]

A run's first attempt and a single call are the same request (nodes.generate), so its
wording sets where the loop starts. This asks each problem's solution greedily with the
loop's own request (`ours`) and with other wordings, interleaved problem by problem,
scores every reply with the hidden tests, and prints the passes, mean seconds and tokens
written of each, and the problems each gets right that `ours` does not. Tune on 0-81
(the default); 82-163 is the held-back half.
"""

from __future__ import annotations

import argparse

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from solutions import Row, print_table, right_only, solve

from codeloop.context import Context
from codeloop.evals.humaneval import load_problems
from codeloop.models import load_model
from codeloop.nodes.common import prompts_for
from codeloop.prompts.base import render

BLOCK = "Reply with the complete solution in one fenced Python code block."
# Other wordings: (system, user) with `{task}` for the task.
WORDINGS = {
    "fenced": (None, "Complete the following Python code:\n```python\n{task}\n```"),
    "selfcontained": ("You are a helpful assistant.",
                      "Please provide a self-contained Python script that solves the following "
                      "problem in a markdown code block:\n```\n{task}\n```"),
    "plain": ("You are a helpful assistant.", "{task}\n\n" + BLOCK),
}


def request(variant: str, task: str, ours: list[BaseMessage]) -> list[BaseMessage]:
    """The messages of one wording; a wording without a system message keeps the loop's."""
    if variant == "ours":
        return ours
    system, user = WORDINGS[variant]
    head = SystemMessage(system) if system else SystemMessage(render("chat_generate_system"))
    return [head, HumanMessage(user.replace("{task}", task.strip()))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--problems", type=int, default=82)
    parser.add_argument("--variants", nargs="+", default=list(WORDINGS),
                        choices=list(WORDINGS))
    args = parser.parse_args()
    kinds = ["ours", *args.variants]
    context = Context()
    model = load_model("local")
    prompts = prompts_for(model)
    rows: dict[str, list[Row]] = {kind: [] for kind in kinds}
    problems = load_problems(args.offset, args.problems)
    for number, problem in enumerate(problems, 1):
        ours = prompts.generation(problem.prompt, "", None, None)
        for kind in kinds:
            rows[kind].append(solve(model, request(kind, problem.prompt, ours), context,
                                    list(prompts.stop), problem))
        print(f"{number}/{len(problems)} " + " ".join(
            f"{kind} {sum(p for p, _, _ in runs)}" for kind, runs in rows.items()), flush=True)
    print_table(rows, "ours", "request", f"{len(problems)} problems from {args.offset}, greedy")
    for kind in args.variants:
        print(f"{kind}: right only here {right_only(problems, rows[kind], rows['ours'])}; "
              f"only with ours {right_only(problems, rows['ours'], rows[kind])}")

if __name__ == "__main__":
    main()
