"""generate: ask the model for a solution, then for its tests, with findings on the last attempt."""

from __future__ import annotations

import re
import time
from dataclasses import replace

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langgraph.runtime import Runtime

from codeloop.context import Context, context_of
from codeloop.models import chat_model
from codeloop.nodes.common import call_model, prompts_for
from codeloop.nodes.examples import PREFIX as EXAMPLE_PREFIX
from codeloop.nodes.examples import example_tests
from codeloop.nodes.extract import TEST_HEADER, Extracted, extract, with_task_definitions
from codeloop.state import Attempt, State, check_task
from codeloop.tracing import call_config

# A few short tests fit well within this; small models that start repeating asserts stop here.
TEST_TOKENS = 512


def generate(state: State, runtime: Runtime[Context]) -> dict[str, object]:
    """Write attempt n+1. A reply with no usable code is a failed attempt, never a crash.

    The task is checked here too: runs started over the HTTP API reach the graph
    without passing through the CLI's checks.
    """
    ctx = context_of(runtime.context)
    attempts = state.get("attempts") or []
    if not attempts:
        check_task(state["task"])
    model = chat_model(ctx)
    prompts = prompts_for(model)
    started = time.monotonic()
    ask = prompts.generation(
        state["task"],
        state.get("constraints") or "",
        attempts[-1] if attempts else None,
        state.get("human_feedback"),
    )
    stop = list(prompts.stop)
    solution = ask_model(model, ask, ctx, len(attempts), ctx.max_new_tokens, stop)
    tests_ask = prompts.test_writing(ask, solution.text, retry=bool(attempts))
    tests = ask_model(model, tests_ask, ctx, len(attempts), TEST_TOKENS, stop, step="tests")
    found, task_tests = _with_task_tests(
        extract(solution.text, tests.text), state["task"], state.get("extra_tests")
    )
    found = replace(found, code=with_task_definitions(found.code, state["task"]))
    attempt: Attempt = {
        "iteration": len(attempts) + 1,
        "code": found.code,
        "tests": found.tests,
        "task_tests": task_tests,
        "parse_error": _reason(found.error, solution, tests),
        "tokens": _tokens(solution, tests),
        "seconds": {"generate": round(time.monotonic() - started, 3)},
    }
    return {"current": attempt, "iteration": attempt["iteration"], "human_feedback": None}


def ask_model(
    model: BaseChatModel,
    messages: list[BaseMessage],
    ctx: Context,
    salt: int,
    max_tokens: int,
    stop: list[str],
    step: str = "solution",
) -> AIMessage:
    """One generation call with the run's sampling settings (the seed varies per attempt)."""
    temperature = ctx.temperature if salt == 0 else max(ctx.temperature, ctx.retry_temperature)
    return call_model(
        model,
        messages,
        stop=stop,
        temperature=temperature,
        max_tokens=min(max_tokens, ctx.max_new_tokens),
        seed=ctx.seed + salt,
        timeout=ctx.model_timeout,
        config=call_config(step, salt + 1),
    )


def _with_task_tests(
    found: Extracted, task: str, extra: str | None
) -> tuple[Extracted, list[str]]:
    """Add tests from the task's own examples and the user's extra tests to the model's.

    Also returns their names: tests the user wrote are trusted more than the model's own
    when the best of several rejected attempts is chosen.
    """
    if not found.code:
        return found, []
    # The model sometimes copies the name of a task example it saw in the findings; keep the
    # name for the task's own tests so the two are never confused.
    own = found.tests.replace(f"def {EXAMPLE_PREFIX}", "def test_own_example_")
    found = Extracted(code=found.code, tests=own, error=found.error)
    parts = [example_tests(task, found.code), (extra or "").strip()]
    added = "\n\n".join(p for p in parts if p)
    if not added:
        return found, []
    tests = f"{found.tests or TEST_HEADER}\n\n# Tests from the task\n{added}\n"
    names = re.findall(r"^(?:async\s+)?def\s+(test\w*)", added, re.MULTILINE)
    return Extracted(code=found.code, tests=tests), names


def _reason(error: str | None, *replies: AIMessage) -> str | None:
    if error and any(r.response_metadata.get("finish_reason") == "length" for r in replies):
        return f"{error} (the reply was cut off at the token limit: write shorter code and tests)"
    return error


def _tokens(*replies: AIMessage) -> dict[str, int]:
    usages = [r.usage_metadata for r in replies if r.usage_metadata]
    return {
        "prompt": sum(u["input_tokens"] for u in usages),
        "completion": sum(u["output_tokens"] for u in usages),
    }
