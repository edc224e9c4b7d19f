"""CODELOOP_API_KEY on a real `langgraph dev` server over HTTP, and runs kept across a restart.

The server is configured through its .env as a user would (the key, and a `scripted:`
model so a graph run is quick). It is started, given a run, stopped and started again
on the same folder (what docker-compose's volume keeps): the tests then talk to the
second server.
"""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_sync_client

from tests.batch_support import task_text, write_script
from tests.langgraph_server import langgraph_dev

pytestmark = pytest.mark.integration
KEY = secrets.token_urlsafe(24)
GRAPH = "codeloop"


@pytest.fixture(scope="module")
def restarted(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A keyed server that ran one graph run, then was restarted; (server, thread id)."""
    workdir = tmp_path_factory.mktemp("keyed")
    model = write_script(workdir / "script.json")
    (workdir / ".env").write_text(f"CODELOOP_API_KEY={KEY}\nCODELOOP_MODEL={model}\n"
                                  "CODELOOP_RATE_LIMIT=1000\n")
    with langgraph_dev(workdir) as first:
        client = get_sync_client(url=first.url, api_key=KEY)
        thread = client.threads.create()["thread_id"]
        out = client.runs.wait(thread, GRAPH, input={"task": task_text(1)},
                               context={"max_iterations": 1})
        assert out["status"] == "approved", first.log_tail()
    with langgraph_dev(workdir) as second:
        yield second, thread


@pytest.fixture
def http(restarted: Any) -> Any:
    with httpx.Client(base_url=restarted[0].url, timeout=60) as client:
        yield client


def test_a_thread_and_its_finished_run_survive_a_restart(restarted: Any) -> None:
    server, thread = restarted
    client = get_sync_client(url=server.url, api_key=KEY)
    state = client.threads.get_state(thread)
    assert state["values"]["status"] == "approved" and state["next"] == []
    assert "def add" in state["values"]["final"]["code"]
    assert [r["status"] for r in client.runs.list(thread)] == ["success"]


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/threads", {}),
    ("POST", "/assistants/search", {}),
    ("GET", "/health", None),
    ("POST", "/generate", {"task": task_text(2)}),
    ("POST", "/review", {"task": task_text(2), "code": "def add(a, b):\n    return a + b\n"}),
])
def test_without_the_key_every_api_and_service_endpoint_is_401(
    http: httpx.Client, method: str, path: str, body: Any
) -> None:
    for headers in ({}, {"x-api-key": "wrong"}, {"authorization": "Bearer wrong"},
                    {"x-auth-scheme": "langsmith"}):  # Studio's scheme does not skip the key
        reply = http.request(method, path, json=body, headers=headers)
        assert reply.status_code == 401, (headers, reply.text)
        assert "CODELOOP_API_KEY" in reply.text and KEY not in reply.text


def test_with_the_key_the_same_requests_get_through(http: httpx.Client) -> None:
    headers = {"x-api-key": KEY}
    assert http.post("/threads", json={}, headers=headers).status_code == 200
    assert http.post("/assistants/search", json={},
                     headers={"authorization": f"Bearer {KEY}"}).status_code == 200
    generated = http.post("/generate", json={"task": task_text(2)}, headers=headers)
    assert generated.status_code == 200 and "def add" in generated.json()["code"]
    # The scripted model is no backend /health can probe: 503 with the reason, not 401.
    assert http.get("/health", headers=headers).status_code == 503


def test_liveness_stays_open_for_probes(http: httpx.Client) -> None:
    assert http.get("/ok").status_code == 200
