"""How many tasks the model can solve at all: the ceiling of any loop that picks among its tries.

    .venv/bin/python bench/bench_ceiling.py [--set prose|humaneval] [--offset 0] [--problems 16] [--samples 8]

The loop can only hand back code the model wrote. This asks each task's first attempt
(greedy, as the loop does) and `--samples` more sampled as a retry is (one llama.cpp
batch, nodes.candidates), scores every reply with the hidden tests, and prints per task
how many were right, then: the greedy attempt's passes, the tasks with at least one
right reply among all (what a perfect judge of the tries could reach), and the mean
right fraction of a sampled reply. Nothing here reaches a prompt but the task.
"""

from __future__ import annotations

import argparse
import time

from solutions import right

from codeloop.context import Context
from codeloop.evals.humaneval import load_problems
from codeloop.evals.prose import load_prose
from codeloop.models import load_model
from codeloop.nodes.candidates import ask_candidates
from codeloop.nodes.common import prompts_for, sampling
from codeloop.nodes.generate import ask_model


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", choices=("prose", "humaneval"), default="prose")
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--problems", type=int, default=16)
    parser.add_argument("--samples", type=int, default=8, choices=range(1, 9))
    args = parser.parse_args()
    load = load_prose if args.set == "prose" else load_problems
    problems = load(args.offset, args.problems)
    context = Context()
    model = load_model("local")
    prompts = prompts_for(model)
    stop = list(prompts.stop)
    greedy_right, any_right, sampled_right, seconds = 0, 0, 0, 0.0
    for problem in problems:
        messages = prompts.generation(problem.prompt, "", None, None)
        started = time.perf_counter()
        first = ask_model(model, messages, context, 0, context.max_new_tokens, stop)
        samples = ask_candidates(model, messages, context, 1, args.samples, stop)
        seconds += time.perf_counter() - started
        marks = [right(problem, reply.text) for reply in (first, *samples)]
        greedy_right += marks[0]
        any_right += any(marks)
        sampled_right += sum(marks[1:])
        print(f"{problem.task_id}: greedy {'right' if marks[0] else 'wrong'}, "
              f"{sum(marks[1:])} of {len(samples)} sampled right", flush=True)
    count = len(problems)
    print(f"{count} tasks ({args.set} from {args.offset}), 1 greedy + {args.samples} sampled each "
          f"at temperature {sampling(context, 1)['temperature']}, "
          f"{seconds / count:.1f} s a task to write them")
    print(f"greedy right: {greedy_right}; right in at least one of the {args.samples + 1}: "
          f"{any_right}; a sampled reply right: {100 * sampled_right / (count * args.samples):.0f}%")


if __name__ == "__main__":
    main()
