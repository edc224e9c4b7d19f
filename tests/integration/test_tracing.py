"""Tracing end to end: real processes, a real closed port, a real local HTTP server.

The graph runs on the scripted model (the point here is the traces, not the code), in a
fresh subprocess each time: LangSmith reads its environment variables once per process.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SLUG = "write-add-a-b-returning-the"
# Two tasks in one process: the first fails its tests once (tests are written once per run,
# and a failing attempt gets no review), then is approved; the second is approved at once.
SCRIPT = """
from codeloop.models.scripted import ScriptedChatModel
from codeloop.runs.runner import run_task
from tests.helpers import ScriptedContext, reply_with_code, reply_with_tests, reply_with_verdict

ADD, BUG = "def add(a, b):\\n    return a + b\\n", "def add(a, b):\\n    return a - b\\n"
TESTS = "def test_small():\\n    assert add(1, 2) == 3\\n"
replies = [
    reply_with_code(BUG), reply_with_tests(TESTS),
    reply_with_code(ADD), reply_with_verdict(True, 9),
    reply_with_code(ADD), reply_with_tests(TESTS), reply_with_verdict(True, 9),
]
context = ScriptedContext(scripted=ScriptedChatModel(script=replies))
for task in ("Write add(a, b) returning the sum of two numbers.", "Write add(a, b) again."):
    print(run_task(task, context).status)
"""


def run_traced(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run SCRIPT in a fresh interpreter with the LangSmith variables in `env` only.

    Proxy settings are dropped too: the servers here are on 127.0.0.1.
    """
    clean = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("LANGSMITH_", "LANGCHAIN_")) and not k.lower().endswith("_proxy")
    }
    return subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_endpoint_warns_once_and_the_runs_complete():
    port = closed_port()
    done = run_traced(
        {
            "LANGSMITH_TRACING": "true",
            "LANGSMITH_API_KEY": "test-key",
            "LANGSMITH_ENDPOINT": f"http://127.0.0.1:{port}",
        }
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["approved", "approved"]
    lines = done.stderr.splitlines()
    assert lines == [
        f"LangSmith tracing is on but http://127.0.0.1:{port} is unreachable "
        "(Connection refused): traces are not being delivered"
    ]


class FakeLangSmith(BaseHTTPRequestHandler):
    """Answers /info and accepts /runs/multipart, keeping every run part it receives."""

    received: list[tuple[str, str, bytes, str]]  # (method, path, body, content type)
    ingest_status = 202

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self.received.append(("GET", self.path, b"", ""))
        self._reply(200, {"version": "fake"} if self.path == "/info" else {})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.received.append(("POST", self.path, body, self.headers.get("Content-Type", "")))
        self._reply(self.ingest_status if self.path == "/runs/multipart" else 404, {})


@pytest.fixture
def langsmith_server(request: pytest.FixtureRequest) -> Iterator[tuple[str, list[Any]]]:
    received: list[tuple[str, str, bytes, str]] = []
    status = getattr(request, "param", 202)
    handler = type("Handler", (FakeLangSmith,), {"received": received, "ingest_status": status})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


def runs_from(received: list[tuple[str, str, bytes, str]]) -> dict[str, dict[str, Any]]:
    """Rebuild each run from the multipart posts: `post.<id>` / `patch.<id>` plus fields."""
    runs: dict[str, dict[str, Any]] = {}
    for method, path, body, content_type in received:
        if method != "POST":
            continue
        assert path == "/runs/multipart", path
        head = f"Content-Type: {content_type}\r\n\r\n".encode()
        message = BytesParser(policy=policy.default).parsebytes(head + body)
        for part in message.iter_parts():
            name = str(part.get_param("name", header="content-disposition"))
            _, run_id, *field = name.split(".")
            data = json.loads(part.get_payload(decode=True) or b"null")
            run = runs.setdefault(run_id, {})
            if field:
                run[field[0]] = data
            else:
                run.update(data)
    return runs


def test_runs_arrive_named_and_tagged(langsmith_server):
    url, received = langsmith_server
    done = run_traced(
        {
            "LANGSMITH_TRACING": "true",
            "LANGSMITH_API_KEY": "test-key",
            "LANGSMITH_ENDPOINT": url,
            "LANGSMITH_PROJECT": "codeloop-tests",
            "LANGSMITH_DISABLE_RUN_COMPRESSION": "true",  # the fake server reads plain multipart
        }
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["approved", "approved"]
    assert "not being delivered" not in done.stderr
    runs = runs_from(received)
    roots = {r["name"]: r for r in runs.values() if not r.get("parent_run_id")}
    assert set(roots) == {f"codeloop {SLUG}", "codeloop write-add-a-b-again"}
    root = roots[f"codeloop {SLUG}"]
    assert root["session_name"] == "codeloop-tests"
    assert {"codeloop", f"task:{SLUG}"} <= set(root["tags"])
    assert any(tag.startswith("model:registered:") for tag in root["tags"])  # the scripted model
    assert root["extra"]["metadata"]["task_slug"] == SLUG
    assert root["outputs"]["status"] == "approved"

    in_first = [r for r in runs.values() if r["trace_id"] == root["id"]]
    calls = sorted((r for r in in_first if r["run_type"] == "llm"), key=lambda r: r["dotted_order"])
    assert [c["name"] for c in calls] == [
        "solution #1", "tests #1", "solution #2", "verdict #2"
    ]
    for call in calls:
        parent = runs[call["parent_run_id"]]
        assert parent["name"] == call["extra"]["metadata"]["langgraph_node"]
        assert parent["parent_run_id"] == root["id"]  # call -> node -> the run
        assert call["extra"]["metadata"]["iteration"] == int(call["name"][-1])
        assert f"task:{SLUG}" in call["tags"]


def test_tracing_is_off_by_default(langsmith_server):
    url, received = langsmith_server
    done = run_traced({"LANGSMITH_API_KEY": "test-key", "LANGSMITH_ENDPOINT": url})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["approved", "approved"]
    assert done.stderr == ""
    assert received == []


@pytest.mark.parametrize("langsmith_server", [401], indirect=True)
def test_rejected_traces_are_reported_in_one_line(langsmith_server):
    url, received = langsmith_server
    done = run_traced(
        {
            "LANGSMITH_TRACING": "true",
            "LANGSMITH_API_KEY": "wrong-key",
            "LANGSMITH_ENDPOINT": url,
            "LANGSMITH_DISABLE_RUN_COMPRESSION": "true",
        }
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["approved", "approved"]
    assert len([r for r in received if r[0] == "POST"]) > 1  # several batches were refused
    assert done.stderr.splitlines() == [
        "LangSmith traces are not being delivered (LangSmithAuthError); "
        "further tracing errors are not shown"
    ]
