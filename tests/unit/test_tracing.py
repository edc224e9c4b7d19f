"""Tracing labels: how runs are named and tagged, and how delivery failures are reported."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langsmith import utils as ls_utils

from codeloop import tracing
from codeloop.context import Context
from codeloop.runs.runner import run_task
from tests.helpers import reply_with_code, reply_with_tests, reply_with_verdict

ADD = "def add(a, b):\n    return a + b\n"
ADD_BUG = "def add(a, b):\n    return a - b\n"
TESTS = "def test_small():\n    assert add(1, 2) == 3\n"
TASK = "Write add(a, b) returning the sum of two numbers."


@pytest.fixture
def tracing_off(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LANGSMITH_TRACING", "LANGCHAIN_TRACING", "LANGSMITH_TRACING_V2",
                 "LANGCHAIN_TRACING_V2"):
        monkeypatch.delenv(name, raising=False)
    ls_utils.get_env_var.cache_clear()  # langsmith caches what it read from the environment
    yield
    ls_utils.get_env_var.cache_clear()


class Recorder(BaseCallbackHandler):
    """Keeps the name, tags and metadata of every chain and chat-model run it sees."""

    def __init__(self) -> None:
        self.runs: list[dict[str, Any]] = []

    def _keep(self, kind: str, kwargs: dict[str, Any]) -> None:
        self.runs.append(
            {"kind": kind, "name": kwargs.get("name"), "tags": kwargs.get("tags") or [],
             "metadata": kwargs.get("metadata") or {}, "parent": kwargs.get("parent_run_id")}
        )

    def on_chain_start(self, serialized: Any, inputs: Any, **kwargs: Any) -> None:
        self._keep("chain", kwargs)

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        self._keep("llm", kwargs)


def test_run_config_names_and_tags_the_run_after_task_and_model():
    config = tracing.run_config(TASK, Context(model="local", max_iterations=2))
    assert config["run_name"] == "codeloop write-add-a-b-returning-the"
    assert config["tags"] == ["codeloop", "task:write-add-a-b-returning-the", "model:local"]
    assert config["metadata"] == {
        "task_slug": "write-add-a-b-returning-the",
        "model": "local",
        "max_iterations": 2,
        "review_threshold": 6,
    }


def test_run_config_keeps_what_the_caller_gave():
    base = {
        "configurable": {"thread_id": "t-1"},
        "tags": ["mine", "codeloop"],
        "metadata": {"model": "overridden", "team": "a"},
        "run_name": "my run",
    }
    config = tracing.run_config(TASK, Context(model="tgi:http://h:1"), base)
    assert config["configurable"] == {"thread_id": "t-1"}
    assert config["run_name"] == "my run"
    assert config["tags"] == ["mine", "codeloop", "task:write-add-a-b-returning-the",
                              "model:tgi:http://h:1"]
    assert config["metadata"]["model"] == "overridden"
    assert config["metadata"]["team"] == "a"
    assert config["metadata"]["task_slug"] == "write-add-a-b-returning-the"
    assert base["tags"] == ["mine", "codeloop"]  # the caller's config is not modified


def test_call_config_names_the_step_and_iteration():
    config = tracing.call_config("verdict", 3)
    assert config["run_name"] == "verdict #3"
    assert config["tags"] == ["iteration:3", "step:verdict"]
    assert config["metadata"] == {"iteration": 3, "step": "verdict"}


def test_tracing_off_means_no_endpoint_check(tracing_off):
    # Unit tests refuse sockets, so an endpoint probe here would raise.
    assert not tracing.tracing_on()
    with tracing.traced_run(TASK, Context()) as config:
        assert config["run_name"].startswith("codeloop ")


def test_endpoint_problem_without_a_host_needs_no_network():
    assert tracing.endpoint_problem("not a url") == "not a URL"


def test_endpoint_behind_a_proxy_is_not_probed(monkeypatch: pytest.MonkeyPatch):
    # A direct connection says nothing about a proxied one (and unit tests refuse sockets).
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert tracing.endpoint_problem("https://langsmith.behind-a-proxy.example") is None


def test_a_two_round_run_reads_as_the_workflow(scripted, tracing_off):
    context, _ = scripted(
        [
            reply_with_code(ADD_BUG), reply_with_tests(TESTS),  # tests fail: no review
            reply_with_code(ADD), reply_with_verdict(True, 9),  # the tests are reused
        ]
    )
    recorder = Recorder()
    result = run_task(TASK, context, config={"callbacks": [recorder]})
    assert result.status == "approved"
    root = recorder.runs[0]
    assert root["name"] == "codeloop write-add-a-b-returning-the"
    assert {"codeloop", "task:write-add-a-b-returning-the", f"model:{context.model}"} <= set(root["tags"])
    calls = [r for r in recorder.runs if r["kind"] == "llm"]
    assert [c["name"] for c in calls] == ["solution #1", "tests #1", "solution #2", "verdict #2"]
    for call in calls:
        # each call keeps the run's labels and LangGraph's node label, and adds its own
        assert call["metadata"]["task_slug"] == "write-add-a-b-returning-the"
        assert call["metadata"]["iteration"] == int(call["name"][-1])
        assert call["metadata"]["langgraph_node"] in ("generate", "write_tests", "review")
        assert f"iteration:{call['name'][-1]}" in call["tags"]
        assert "codeloop" in call["tags"]
    nodes = [r["name"] for r in recorder.runs if r["kind"] == "chain" and r["parent"] is not None]
    assert [n for n in nodes if n in ("generate", "execute", "write_tests", "review", "finalize")] == [
        "generate", "execute", "write_tests", "execute", "review",
        "generate", "execute", "review", "finalize",
    ]


def test_delivery_failures_become_one_line(caplog):
    collapse = tracing._DeliveryErrors()
    failure = "Failed to multipart ingest runs: LangSmithConnectionError('Connection error...')\n"

    def record(message: str, level: int = logging.WARNING) -> logging.LogRecord:
        return logging.LogRecord("langsmith.client", level, __file__, 1, message, None, None)

    with caplog.at_level(logging.WARNING, logger="codeloop.tracing"):
        kept = [collapse.filter(record(failure + "trace=1")) for _ in range(5)]
        other = collapse.filter(record("Run compression is not enabled."))
        debug = collapse.filter(record("Failed to send, retrying", logging.DEBUG))
    assert kept == [False] * 5
    assert other and debug
    lines = [r.getMessage() for r in caplog.records if r.name == "codeloop.tracing"]
    assert len(lines) == 1
    assert lines == [
        "LangSmith traces are not being delivered (LangSmithConnectionError); "
        "further tracing errors are not shown"
    ]
