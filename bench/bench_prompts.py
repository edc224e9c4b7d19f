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
import statistics
import time

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from codeloop.context import Context
from codeloop.evals.humaneval import load_problems, score
from codeloop.models import load_model
from codeloop.nodes.common import prompts_for
from codeloop.nodes.extract import extract
from codeloop.nodes.generate import ask_model
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
    rows: dict[str, list[tuple[bool, float, int]]] = {kind: [] for kind in kinds}
    problems = load_problems(args.offset, args.problems)
    for number, problem in enumerate(problems, 1):
        ours = prompts.generation(problem.prompt, "", None, None)
        for kind in kinds:
            started = time.perf_counter()
            reply = ask_model(model, request(kind, problem.prompt, ours), context, 0,
                              context.max_new_tokens, list(prompts.stop))
            seconds = time.perf_counter() - started
            passed = score(problem, extract(reply.text).code).status == "passed"
            rows[kind].append((passed, seconds, reply.usage_metadata["output_tokens"]))
        print(f"{number}/{len(problems)} " + " ".join(
            f"{kind} {sum(p for p, _, _ in runs)}" for kind, runs in rows.items()), flush=True)
    base = statistics.mean(s for _, s, _ in rows["ours"])
    print(f"{'request':<14} {'passed':>7} {'mean s':>7} {'vs ours':>8} {'tokens written':>15}"
          f"   ({len(problems)} problems from {args.offset}, greedy)")
    for kind, runs in rows.items():
        seconds = statistics.mean(s for _, s, _ in runs)
        print(f"{kind:<14} {sum(p for p, _, _ in runs):7d} {seconds:7.2f} {seconds / base:7.2f}x "
              f"{statistics.mean(t for _, _, t in runs):15.0f}")
    for kind in args.variants:
        gained = [p.task_id for p, mine, theirs in zip(problems, rows[kind], rows["ours"], strict=True)
                  if mine[0] and not theirs[0]]
        lost = [p.task_id for p, mine, theirs in zip(problems, rows[kind], rows["ours"], strict=True)
                if theirs[0] and not mine[0]]
        print(f"{kind}: right only here {', '.join(gained) or 'none'}; "
              f"only with ours {', '.join(lost) or 'none'}")


if __name__ == "__main__":
    main()
