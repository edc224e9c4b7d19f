"""write_tests: the model's pytest tests, asked for once per run, not once per attempt.

They are asked for when an attempt first passes the task's own examples (before that,
the examples already say what is wrong, and tests would be paid for in vain), one per
stated rule (nodes.rules); again only if the ones written cannot run, or, added to
them, for the rules that have no passing test yet. Later attempts reuse them; a test that the
attempts passing every trusted check contradict is refuted instead of rewritten (see
nodes.checks).
"""

from __future__ import annotations

import time

from langgraph.runtime import Runtime

from codeloop.context import Context, context_of
from codeloop.models import chat_model
from codeloop.nodes.checks import tests_broken
from codeloop.nodes.common import prompts_for
from codeloop.nodes.enough import checks_allowed, enough_tests
from codeloop.nodes.extract import extract
from codeloop.nodes.generate import ask_model, tokens_of, with_task_tests
from codeloop.nodes.rules import merged_tests, rules_for, uncovered
from codeloop.state import Attempt, State

# A short test per stated rule (at most 8) fits within this. A reply usually ends sooner:
# after its block of tests, or once it holds enough checks (nodes.enough).
TEST_TOKENS = 512


def write_tests(state: State, runtime: Runtime[Context]) -> dict[str, object]:
    """Ask for tests of the current attempt's code and add them to its test file."""
    ctx = context_of(runtime.context)
    attempt = state["current"]
    model = chat_model(ctx)
    prompts = prompts_for(model)
    started = time.monotonic()
    ask = prompts.generation(state["task"], state.get("constraints") or "", None, None)
    rules = rules_for(state["task"], attempt)
    earlier = attempt.get("model_tests") or ""
    broken = bool(earlier) and tests_broken(attempt)
    missing = uncovered(attempt, rules) if earlier and not broken else []
    request = prompts.test_writing(ask, attempt["code"], rules, retry=broken, missing=missing)
    reply = ask_model(model, request, ctx, attempt["iteration"] - 1, TEST_TOKENS,
                      list(prompts.stop), step="tests",
                      enough=enough_tests(checks_allowed(len(missing or rules))))
    model_tests = extract(f"```python\n{attempt['code']}\n```", reply.text).tests
    if missing:
        model_tests = merged_tests(earlier, model_tests)
    tests, task_tests = with_task_tests(attempt["code"], model_tests, state["task"],
                                        state.get("extra_tests"))
    spent = tokens_of(reply)
    updated: Attempt = {
        **attempt,
        "tests": tests,
        "task_tests": task_tests,
        "model_tests": model_tests,
        "tests_asked": True,
        # A second request for the same attempt, whatever it was for, is the last one.
        "rules_asked": bool(attempt.get("tests_asked") or missing),
        "tokens": {k: attempt["tokens"].get(k, 0) + v for k, v in spent.items()},
        "seconds": {**attempt["seconds"], "tests": round(time.monotonic() - started, 3)},
    }
    return {"current": updated}
