"""generate: ask the model for a solution, with the findings on the last attempt.

Tests are not asked for here: the run's own tests (written once, by write_tests, for the
first attempt that passes the task's examples) are reused, so a retry costs one call.
"""

from __future__ import annotations

import re
import time

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langgraph.runtime import Runtime

from codeloop.context import Context, context_of
from codeloop.models import chat_model
from codeloop.nodes.candidates import ask_candidates, candidate_count, choose
from codeloop.nodes.checks import only_model_tests_fail
from codeloop.nodes.common import call_model, prompts_for, sampling
from codeloop.nodes.enough import Enough, enough_solution
from codeloop.nodes.examples import PREFIX as EXAMPLE_PREFIX
from codeloop.nodes.extract import TEST_HEADER, begun_solution, extract, with_task_definitions
from codeloop.nodes.stated import given_tests
from codeloop.prompts import PromptSet
from codeloop.sandbox import Limits
from codeloop.state import Attempt, State, check_task, latest_model_tests
from codeloop.tracing import call_config


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
    last = attempts[-1] if attempts else None
    # A second opinion is written from the task alone (see nodes.checks).
    opinion = bool(last and not state.get("human_feedback") and only_model_tests_fail(last))
    ask = solution_request(model, prompts, state["task"], state.get("constraints") or "",
                           None if opinion else last, state.get("human_feedback"),
                           retry=bool(attempts))
    count = candidate_count(ctx, model, last, opinion)
    if count > 1:
        replies = ask_candidates(model, ask, ctx, len(attempts), count, list(prompts.stop))
        reply, passed = choose(replies, state["task"], state.get("extra_tests") or "",
                               Limits(wall_seconds=ctx.test_timeout))
    else:
        replies, passed = [ask_model(model, ask, ctx, len(attempts), ctx.max_new_tokens,
                                     list(prompts.stop))], []
        reply = replies[0]
    found = extract(reply.text)
    code = with_task_definitions(found.code, state["task"])
    # The run's tests if it has some; else any the model put in its reply.
    model_tests = latest_model_tests(attempts) or found.tests
    tests, task_tests = with_task_tests(code, model_tests, state["task"], state.get("extra_tests"))
    attempt: Attempt = {
        "iteration": len(attempts) + 1,
        "code": code,
        "tests": tests,
        "task_tests": task_tests,
        "model_tests": model_tests,
        "parse_error": _reason(found.error, reply),
        "tokens": tokens_of(*replies),
        "seconds": {"generate": round(time.monotonic() - started, 3)},
    }
    if passed:
        attempt["candidates"] = passed
        attempt["last_round"] = not opinion  # see nodes.candidates
    return {"current": attempt, "iteration": attempt["iteration"], "human_feedback": None}


def solution_request(
    model: BaseChatModel, prompts: PromptSet, task: str, constraints: str,
    previous: Attempt | None, human_feedback: str | None, retry: bool,
) -> list[BaseMessage]:
    """The messages asking for a solution; a retry's reply is begun with the task's stub.

    A model that `continues_replies` then writes only the body, not the signature and
    docstring it copied at the first attempt: on a CPU every token written costs about
    four read. The first attempt is asked exactly as a single call is, so what the loop
    adds to a single call is only its retries, tests and review.
    """
    ask = prompts.generation(task, constraints, previous, human_feedback)
    begun = begun_solution(task) if retry and getattr(model, "continues_replies", False) else ""
    return [*ask, AIMessage(begun)] if begun else ask


def ask_model(
    model: BaseChatModel,
    messages: list[BaseMessage],
    ctx: Context,
    salt: int,
    max_tokens: int,
    stop: list[str],
    step: str = "solution",
    enough: Enough = enough_solution,
) -> AIMessage:
    """One generation call with the run's sampling settings (the seed varies per attempt).

    The reply ends once `enough` has been said: by default, after the solution's code.
    """
    return call_model(
        model,
        messages,
        stop=stop,
        max_tokens=min(max_tokens, ctx.max_new_tokens),
        config=call_config(step, salt + 1),
        enough=enough,
        **sampling(ctx, salt),
    )


def with_task_tests(
    code: str, model_tests: str, task: str, extra: str | None
) -> tuple[str, list[str]]:
    """The attempt's test file: the model's tests, then the task's (nodes.stated) and the user's.

    Also returns the names of the task's and the user's tests: they are trusted more than
    the model's own when the best of several rejected attempts is chosen.
    """
    if not code:
        return model_tests, []
    # The model sometimes copies the name of a task example it saw in the findings; keep the
    # name for the task's own tests so the two are never confused.
    own = model_tests.replace(f"def {EXAMPLE_PREFIX}", "def test_own_example_")
    parts = [given_tests(task, code), (extra or "").strip()]
    added = "\n\n".join(p for p in parts if p)
    if not added:
        return own, []
    tests = f"{own or TEST_HEADER}\n\n# Tests from the task\n{added}\n"
    return tests, re.findall(r"^(?:async\s+)?def\s+(test\w*)", added, re.MULTILINE)


def _reason(error: str | None, *replies: AIMessage) -> str | None:
    if error and any(r.response_metadata.get("finish_reason") == "length" for r in replies):
        return f"{error} (the reply was cut off at the token limit: write shorter code and tests)"
    return error


def tokens_of(*replies: AIMessage) -> dict[str, int]:
    """Prompt and completion tokens of some replies, summed."""
    usages = [r.usage_metadata for r in replies if r.usage_metadata]
    return {
        "prompt": sum(u["input_tokens"] for u in usages),
        "completion": sum(u["output_tokens"] for u in usages),
    }
