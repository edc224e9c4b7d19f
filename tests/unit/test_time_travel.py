"""Checkpoints, forks and replays (what notebook 02 shows), driven by a scripted model."""

from __future__ import annotations

from langgraph.checkpoint.memory import InMemorySaver

from codeloop.graph import build_graph
from tests.helpers import reply_with_code, reply_with_tests, reply_with_verdict

TASK = "Write add(a, b) returning the sum of two numbers."
ADD = "def add(a, b):\n    return a + b\n"
TYPED = "def add(a: int, b: int) -> int:\n    return a + b\n"
TESTS = "def test_small():\n    assert add(1, 2) == 3\n"
FEEDBACK = "Add type hints."


def first_run(scripted):
    """One round, not approved (score 5), on a thread of a checkpointed graph."""
    context, model = scripted(
        [
            reply_with_code(ADD), reply_with_tests(TESTS), reply_with_verdict(False, 5),
            reply_with_code(TYPED), reply_with_tests(TESTS), reply_with_verdict(True, 9),
        ],
        max_iterations=1,
    )
    graph = build_graph(checkpointer=InMemorySaver())
    thread = {"configurable": {"thread_id": "t"}}
    assert graph.invoke({"task": TASK}, thread, context=context)["status"] == "not_approved"
    after_review = next(s for s in graph.get_state_history(thread) if s.next == ("finalize",))
    return graph, thread, after_review, context, model


def test_fork_after_review_with_feedback_goes_back_to_generate(scripted):
    graph, _, after_review, context, model = first_run(scripted)
    # The update counts as review's output, so the routing edge runs without a runtime.
    fork = graph.update_state(after_review.config, {"human_feedback": FEEDBACK}, as_node="review")
    forked = graph.get_state(fork)
    assert forked.next == ("generate",)
    assert forked.metadata["source"] == "update"
    assert forked.parent_config["configurable"]["checkpoint_id"] == (
        after_review.config["configurable"]["checkpoint_id"]
    )

    context.max_iterations = 2
    out = graph.invoke(None, fork, context=context)
    assert out["status"] == "approved"
    assert [a["code"].strip() for a in out["attempts"]] == [ADD.strip(), TYPED.strip()]
    assert f"A person reviewing the code asks: {FEEDBACK}" in model.prompts[3][-1].text
    assert graph.get_state(after_review.config).values.get("human_feedback") is None


def test_feedback_on_an_approved_attempt_is_answered_with_a_new_one(scripted):
    """A person's feedback outranks the verdict (and an untested rule) while budget is left."""
    context, _ = scripted([reply_with_code(ADD), reply_with_tests(TESTS), reply_with_verdict(True, 9)],
                          max_iterations=1)
    graph = build_graph(checkpointer=InMemorySaver())
    thread = {"configurable": {"thread_id": "approved"}}
    assert graph.invoke({"task": TASK}, thread, context=context)["status"] == "approved"
    after_review = next(s for s in graph.get_state_history(thread) if s.next == ("finalize",))
    fork = graph.update_state(after_review.config, {"human_feedback": FEEDBACK}, as_node="review")
    assert graph.get_state(fork).next == ("generate",)
    spent = graph.update_state(after_review.config, {"human_feedback": FEEDBACK, "iteration": 3},
                               as_node="review")
    assert graph.get_state(spent).next == ("finalize",)  # the budget (3 without a runtime) is spent


def test_replay_from_a_checkpoint_reruns_only_what_follows(scripted):
    graph, thread, after_review, context, model = first_run(scripted)
    calls = len(model.prompts)
    nodes = [node for update in graph.stream(None, after_review.config, context=context,
                                             stream_mode="updates") for node in update]
    assert nodes == ["finalize"]
    assert len(model.prompts) == calls  # no model call
    assert graph.get_state(thread).values["status"] == "not_approved"
