"""The workflow: generate -> execute (-> write_tests -> execute) -> review -> route.

route: generate again with the findings, or finalize.

With the `human_review` context flag, human_review stands in for finalize: a person
approves (the run ends) or sends feedback (generate again).

Wiring only; each node lives in `codeloop.nodes`. `graph` is what langgraph.json serves;
`build_graph` compiles it again with a checkpointer for code that wants durable runs.
"""

from __future__ import annotations

from typing import Any, Literal

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import get_runtime

from codeloop.context import Context, context_of
from codeloop.nodes import execute, finalize, generate, review, write_tests
from codeloop.nodes.checks import (
    blocking_failures,
    only_model_tests_fail,
    tests_broken,
    trusted_pass,
)
from codeloop.nodes.human_review import human_review
from codeloop.nodes.rules import anchors, rules_for, uncovered
from codeloop.state import InputState, State


def route(state: State) -> Literal["generate", "human_review", "finalize"]:
    """Approved, out of budget, or a stated rule left untested: finalize (or human_review).

    Otherwise another round with the findings; at the end of the budget, one more only
    to settle a dispute with the model's own tests (`_dispute_open`). A person's feedback
    written into the state as review's output (a fork, notebook 02) comes first: within
    the budget it is answered with a new attempt, whatever the verdict was.
    """
    ctx = _edge_context()
    current = state["current"]
    if state.get("human_feedback") and state.get("iteration", 0) < ctx.max_iterations:
        return "generate"
    # Every test passes but a stated rule has none, even asked again: another attempt would
    # be judged by the same tests, so the run ends here, not approved, with what it has.
    untested = bool(current.get("untested_rules"))
    spent = _budget_spent(state, ctx) and not _dispute_open(state, ctx)
    done = current.get("approved") or untested or spent
    if not done:
        return "generate"
    return "human_review" if ctx.human_review else "finalize"


def _budget_spent(state: State, ctx: Context) -> bool:
    """`max_iterations` rounds are done, or a retry wrote a batch of candidates.

    A batch stands for the rounds left (nodes.candidates): on HumanEval (all 164, one
    machine) one batch of four as the retry got 115 right where two retries in a row got
    111, at 2.78 times single calls' time against 2.60.
    """
    attempts = state.get("attempts") or []
    ended = any(a.get("last_round") for a in attempts)
    return ended or state.get("iteration", 0) >= ctx.max_iterations


def _dispute_open(state: State, ctx: Context) -> bool:
    """The budget ended on an attempt that only the model's own tests dispute, unanswered.

    That attempt passes every check the task gives; only tests the model wrote, whose
    expected values a small model often gets wrong, block it. What settles such a dispute
    is a second opinion, an attempt written from the task alone (nodes.checks): if it
    agrees with this one, the tests are refuted. If the budget ran out before one could
    be made, one more attempt is made, once (never where the budget allows no retry at all).
    """
    attempts = state.get("attempts") or []
    current = state["current"]
    last = state.get("iteration", 0) == ctx.max_iterations or current.get("last_round")
    if ctx.max_iterations < 2 or not last:
        return False
    answered = len(attempts) > 1 and only_model_tests_fail(attempts[-2])
    return only_model_tests_fail(current) and not answered


def after_execute(state: State) -> Literal["write_tests", "review"]:
    """Tests are written once per run, for the first attempt that passes the task's examples.

    Not at all where the task gives `examples_suffice` examples or more (with the user's
    tests): there they and the review decide. On HumanEval (fae923d, all 164) the model's
    tests held back 44 right attempts that passed every example and 2 wrong ones, and
    writing them was a fifth of the loop's time.
    Again, once per attempt, if the ones written cannot run (the task's checks pass, so
    the solution itself imports and runs). And once per attempt if every test passes but
    some stated rule has no passing test of its own (nodes.rules): then tests for those
    rules are added.
    """
    attempt = state["current"]
    if attempt["parse_error"] or not trusted_pass(attempt):
        return "review"
    if anchors(attempt) >= _edge_context().examples_suffice:
        return "review"
    if not attempt.get("tests_asked") and (not attempt.get("model_tests") or tests_broken(attempt)):
        return "write_tests"
    if attempt.get("rules_asked") or not attempt.get("model_tests") or blocking_failures(attempt):
        return "review"
    missing = uncovered(attempt, rules_for(state["task"], attempt))
    return "write_tests" if missing else "review"


def _edge_context() -> Context:
    """The run's Context, read from `get_runtime()`, not from an injected `runtime` parameter.

    Edges also run under `update_state` (forks, Studio's state editing), which provides no
    runtime and rejects an edge that asks for one (langgraph#6340). There the defaults apply.
    """
    runtime = get_runtime(Context)
    return context_of(runtime and runtime.context)


def build_graph(**compile_options: Any) -> Any:
    """Compile the workflow; options (checkpointer, interrupts) go to `compile`."""
    # No narrower output schema: the server streams only output fields, and Studio's update
    # stream should show every node's progress (the attempt in progress, the iteration).
    builder = StateGraph(State, context_schema=Context, input_schema=InputState)
    builder.add_node(generate)
    builder.add_node(execute)
    builder.add_node(write_tests)
    builder.add_node(review)
    builder.add_node(human_review)
    builder.add_node(finalize)
    builder.add_edge(START, "generate")
    builder.add_edge("generate", "execute")
    builder.add_conditional_edges("execute", after_execute)
    builder.add_edge("write_tests", "execute")
    builder.add_conditional_edges("review", route)
    builder.add_edge("finalize", END)
    return builder.compile(name="codeloop", **compile_options)


graph = build_graph()
