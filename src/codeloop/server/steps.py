"""One step of the loop at a time, for clients that want a step rather than the loop.

These call the graph's own nodes (generate; execute then review), so prompts, parsing,
the sandbox and the approval rule are exactly the loop's. They block (llama.cpp, the
sandbox): the endpoints run them in a worker thread, never on the event loop.
"""

from __future__ import annotations

from langgraph.runtime import Runtime

from codeloop.context import Context
from codeloop.nodes import execute, generate, review, write_tests
from codeloop.nodes.extract import TEST_HEADER
from codeloop.nodes.stated import given_tests
from codeloop.state import Attempt, State

NO_TESTS = "no tests: send `tests`, or put examples in the task (f(2) == 4, or >>> f(2) then 4)"


def generate_once(task: str, constraints: str, context: Context) -> Attempt:
    """One generation: the model's solution, then its tests (and the task's examples as tests)."""
    state: State = {"task": task, "constraints": constraints}
    runtime = Runtime(context=context)
    attempt: Attempt = generate(state, runtime)["current"]  # type: ignore[assignment]
    if attempt["parse_error"]:
        return attempt
    return write_tests({**state, "current": attempt}, runtime)["current"]  # type: ignore[return-value]


def review_once(task: str, code: str, tests: str | None, context: Context) -> Attempt:
    """Run the tests in the sandbox, then, if they pass, ask the reviewer: execute and review.

    Without `tests`, the task's own examples are the tests; with neither, nothing runs.
    """
    runtime = Runtime(context=context)
    tests = tests if tests is not None else _task_tests(task, code)
    attempt: Attempt = {
        "iteration": 1,
        "code": code,
        "tests": tests,
        # Nothing to test means nothing to approve: the report says why, no model call.
        "parse_error": None if tests.strip() else NO_TESTS,
        "tokens": {},
        "seconds": {},
    }
    for node in (execute, review):
        update = node({"task": task, "current": attempt}, runtime)
        attempt = update["current"]  # type: ignore[assignment]
    return attempt


def _task_tests(task: str, code: str) -> str:
    examples = given_tests(task, code)
    return f"{TEST_HEADER}\n\n{examples}\n" if examples else ""
