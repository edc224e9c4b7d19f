"""The graph on a real `langgraph dev` server, driven through langgraph-sdk as Studio does.

One server for the module; the embedded model does the work (a run is ~10-40 s on a
busy 2-core machine), so the runs here are few and short (max_iterations 1-2).
"""

from __future__ import annotations

import threading
import urllib.request

import pytest
from langgraph_sdk import get_sync_client

from codeloop.nodes.checks import blocking_failures
from tests.helpers import FIZZBUZZ
from tests.langgraph_server import langgraph_dev

pytestmark = pytest.mark.integration

GRAPH = "codeloop"
IS_EVEN = "Write a function is_even(n) that returns True if the integer n is even."


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with langgraph_dev(tmp_path_factory.mktemp("studio"), jobs=2) as running:
        yield running


@pytest.fixture
def client(server):
    return get_sync_client(url=server.url)


class OkPoller(threading.Thread):
    """Asks /ok every half second until stopped; records each answer (or error)."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.answers, self.done = url, [], threading.Event()
        self.start()

    def run(self) -> None:
        while not self.done.wait(0.5):
            try:
                with urllib.request.urlopen(f"{self.url}/ok", timeout=5) as reply:
                    self.answers.append(reply.status)
            except OSError as exc:
                self.answers.append(repr(exc))

    def stop(self) -> list:
        self.done.set()
        self.join()
        return self.answers


def test_graph_and_schemas_read_as_the_workflow(client):
    (assistant,) = client.assistants.search(graph_id=GRAPH)
    graph = client.assistants.get_graph(assistant["assistant_id"])
    nodes = {node["id"] for node in graph["nodes"]}
    assert nodes == {
        "__start__",
        "generate",
        "execute",
        "write_tests",
        "review",
        "human_review",
        "finalize",
        "__end__",
    }
    conditional = {(e["source"], e["target"]) for e in graph["edges"] if e.get("conditional")}
    assert conditional == {
        ("execute", "write_tests"),
        ("execute", "review"),
        ("review", "generate"),
        ("review", "finalize"),
        ("review", "human_review"),
        ("human_review", "generate"),
        ("human_review", "__end__"),
    }
    schemas = client.assistants.get_schemas(assistant["assistant_id"])
    assert set(schemas["input_schema"]["properties"]) == {"task", "extra_tests", "constraints"}
    assert schemas["input_schema"]["required"] == ["task"]
    context = schemas["context_schema"]["properties"]
    expected = {
        "model",
        "reviewer_model",
        "max_iterations",
        "review_threshold",
        "test_timeout",
        "model_timeout",
        "human_review",
    }
    assert expected <= set(context)
    assert all(field.get("description") for field in context.values())
    assert context["max_iterations"]["default"] == 3
    assert {"status", "final", "attempts"} <= set(schemas["output_schema"]["properties"])


def test_two_threads_run_at_once_one_streamed_to_approval_while_ok_answers(client, server):
    streamed, background = client.threads.create(), client.threads.create()
    other = client.runs.create(
        background["thread_id"], GRAPH, input={"task": IS_EVEN}, context={"max_iterations": 1}
    )
    poller = OkPoller(server.url)
    parts = list(
        client.runs.stream(
            streamed["thread_id"],
            GRAPH,
            input={"task": FIZZBUZZ},
            context={"max_iterations": 2},
            stream_mode=["updates", "values", "messages-tuple"],
        )
    )
    other_result = client.runs.join(background["thread_id"], other["run_id"])
    answers = poller.stop()

    assert [p.data for p in parts if p.event == "error"] == []
    steps = [next(iter(p.data)) for p in parts if p.event == "updates"]
    assert steps[:2] == ["generate", "execute"] and steps[-1] == "finalize"
    assert "review" in steps or "write_tests" in steps
    updates = [p.data for p in parts if p.event == "updates"]
    assert "def fizzbuzz" in updates[0]["generate"]["current"]["code"]  # progress, not just output
    # the first execute runs the task's example alone: the model's tests come from write_tests
    executed = [u["execute"]["current"]["report"] for u in updates if "execute" in u]
    assert any(report["total"] >= 2 for report in executed)  # the example and a model test
    tokens = [p.data for p in parts if p.event == "messages"]
    assert len(tokens) > 5  # the model's tokens as they were written, a quarter second's a chunk
    assert {meta["langgraph_node"] for _, meta in tokens} >= {"generate", "review"}
    assert len(answers) >= 3 and set(answers) == {200}, answers  # /ok never stalled
    assert "BlockingError" not in server.log.read_text(errors="replace")
    last_values = [p.data for p in parts if p.event == "values"][-1]
    assert last_values["status"] == "approved", server.log_tail()

    state = client.threads.get_state(streamed["thread_id"])
    assert state["next"] == []
    values = state["values"]
    assert values["task"] == FIZZBUZZ
    assert values["status"] == "approved", server.log_tail()
    assert "def fizzbuzz" in values["final"]["code"]
    assert values["final"]["report"]["passed"] >= 1 and blocking_failures(values["final"]) == []
    history = client.threads.get_history(streamed["thread_id"], limit=50)
    assert {tuple(h["next"]) for h in history} >= {
        ("generate",),
        ("execute",),
        ("review",),
        ("finalize",),
    }

    assert other_result["status"] in ("approved", "not_approved")
    assert client.threads.get_state(background["thread_id"])["values"]["task"] == IS_EVEN
    assert len(other_result["attempts"]) == 1


def test_human_review_interrupts_and_resumes_with_feedback_then_approval(client):
    assistant = client.assistants.create(
        graph_id=GRAPH, context={"human_review": True, "max_iterations": 1}, name="reviewed"
    )
    aid, thread = assistant["assistant_id"], client.threads.create()["thread_id"]
    client.runs.wait(thread, aid, input={"task": FIZZBUZZ})
    first = client.threads.get_state(thread)
    assert first["next"] == ["human_review"]
    (question,) = first["interrupts"]
    shown = question["value"]
    assert "def fizzbuzz" in shown["code"] and shown["tests"] and shown["iteration"] == 1
    assert "verdict" in shown and shown["report"]["status"] in ("passed", "failed", "error")
    actions = question["response_schema"]["properties"]["action"]["enum"]
    assert actions == ["approve", "reject", "feedback"]  # the form Studio renders
    assert shown["hands_back"].startswith("attempt 1") and shown["latest_iteration"] == 1

    feedback = "Add a docstring to fizzbuzz."
    client.runs.wait(thread, aid, command={"resume": {"action": "feedback", "feedback": feedback}})
    second = client.threads.get_state(thread)
    assert second["next"] == ["human_review"]  # one more iteration, past max_iterations=1
    shown = second["interrupts"][0]["value"]
    assert shown["latest_iteration"] == 2
    history = client.threads.get_history(thread, limit=50)
    assert any(h["values"].get("human_feedback") == feedback for h in history)
    assert second["values"]["human_feedback"] is None  # generate used it up

    out = client.runs.wait(thread, aid, command={"resume": {"action": "approve"}})
    assert out["status"] == "approved"
    assert out["final"]["human_approved"] is True
    assert out["final"]["iteration"] == shown["iteration"]  # the attempt the person was shown
    assert out["final"]["code"] == shown["code"]
    assert len(out["attempts"]) == 2
    assert client.threads.get_state(thread)["next"] == []


def test_human_review_can_say_no(client):
    assistant = client.assistants.create(
        graph_id=GRAPH, context={"human_review": True, "max_iterations": 1}, name="strict"
    )
    aid, thread = assistant["assistant_id"], client.threads.create()["thread_id"]
    client.runs.wait(thread, aid, input={"task": IS_EVEN})
    (question,) = client.threads.get_state(thread)["interrupts"]
    shown = question["value"]
    out = client.runs.wait(thread, aid, command={"resume": {"action": "reject"}})
    assert out["status"] == "not_approved"
    assert out["final"]["code"] == shown["code"]
    assert "human_approved" not in out["final"]
    assert client.threads.get_state(thread)["next"] == []
