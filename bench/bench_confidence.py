"""Does the model's own confidence in an approved code tell the wrong approvals apart?

    .venv/bin/python bench/bench_confidence.py RESULTS.jsonl [RESULTS.jsonl ...]

Every wrong approval passes all the examples its task gives, and the 0.5B reviewer finds
nothing in it. A signal that costs no model call would be the likelihood the model gave
the code as it wrote it: if wrong code were written less surely, approval could ask for a
minimum. This takes the approved loop runs of `codeloop eval` results (HumanEval or
prose), lays out the first request as the loop sends it (the model's chat template), and
reads the log-probability of each token of the final code as the reply (the reply itself
is not kept, so the code in a python block stands in for it). It prints, for three
measures (mean log-probability, lowest token, tokens under p = 0.3), where each wrong
approval ranks among all the approved, least sure first, and how many right approvals a
cut that catches the surest wrong one would reject as well.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from llama_cpp import Llama

from codeloop.evals.harness import RESULTS_FILE, ResultsLog
from codeloop.evals.humaneval import load_problems
from codeloop.evals.prose import load_prose
from codeloop.models import load_model
from codeloop.models.local import ROLE, default_threads
from codeloop.models.model_file import resolve_model_file
from codeloop.nodes.common import prompts_for

UNSURE = math.log(0.3)
MEASURES: dict[str, Callable[[np.ndarray], float]] = {  # each: lower is less sure
    "mean log-probability": lambda lp: float(lp.mean()),
    "lowest token's log-probability": lambda lp: float(lp.min()),
    "tokens under p = 0.3 (negated)": lambda lp: -float((lp < UNSURE).sum()),
}


def approved(paths: list[str]) -> list[dict[str, Any]]:
    """The approved loop records of the given results files, read as the harness reads them."""
    rows = [r for path in paths for r in ResultsLog(Path(path).parent).read()]
    return [r for r in rows if r["mode"] == "loop" and r["status"] == "approved"]


def code_logprobs(records: list[dict[str, Any]]) -> list[np.ndarray]:
    """Per record, each code token's log-probability after the loop's first request."""
    tasks = {p.task_id: p.prompt for p in (*load_problems(0, 164), *load_prose())}
    model = load_model("local")
    engine = model._engine  # the chat template, as the loop lays it out
    prompts = prompts_for(model)
    llm = Llama(model_path=str(resolve_model_file()), n_ctx=4096, n_threads=default_threads(),
                logits_all=True, verbose=False)
    found = []
    for record in records:
        messages = prompts.generation(tasks[str(record["task_id"])], "", None, None)
        prompt = engine.prompt([{"role": ROLE.get(m.type, "user"), "content": m.text}
                                for m in messages])
        reply = llm.tokenize(f"```python\n{str(record['code']).strip()}\n```".encode(),
                             add_bos=False, special=False)
        llm.reset()  # type: ignore[no-untyped-call]
        llm.eval(prompt + reply)
        logits = np.array(llm.scores[len(prompt) - 1:len(prompt) + len(reply) - 1], np.float64)
        top = logits.max(axis=1)
        normaliser = top + np.log(np.exp(logits - top[:, None]).sum(axis=1))
        found.append(logits[np.arange(len(reply)), reply] - normaliser)
    return found


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit("usage: bench_confidence.py RESULTS.jsonl [RESULTS.jsonl ...]")
    for path in sys.argv[1:]:
        if Path(path).name != RESULTS_FILE or not Path(path).is_file():
            sys.exit(f"{path}: not a {RESULTS_FILE} of codeloop eval")
    records = approved(sys.argv[1:])
    logprobs = code_logprobs(records)
    wrong = sum(not r["passed"] for r in records)
    print(f"{len(records)} approved runs, {wrong} of them wrong")
    for name, measure in MEASURES.items():
        scored = sorted(((measure(lp), r) for r, lp in zip(records, logprobs, strict=True)),
                        key=lambda pair: pair[0])
        shown = ", ".join(f"{r['task_id']} at {i + 1}" for i, (_, r) in enumerate(scored)
                          if not r["passed"])
        cut = min((value for value, r in scored if not r["passed"]), default=None)
        cost = sum(value <= cut for value, r in scored if r["passed"]) if cut is not None else 0
        print(f"{name}: wrong approvals rank {shown or 'nowhere'} of {len(scored)} "
              f"(least sure first); a cut catching the first rejects {cost} right approvals")


if __name__ == "__main__":
    main()
