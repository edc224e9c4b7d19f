"""The service endpoints in-process (no sockets), with a scripted model."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from codeloop.models.local import ModelTimeoutError
from codeloop.server.health import Probe
from codeloop.server.service import create_app
from codeloop.server.settings import Settings
from codeloop.server.steps import NO_TESTS
from tests.helpers import reply_with_code, reply_with_tests, reply_with_verdict

ADD = "def add(a, b):\n    return a + b\n"
ADD_TESTS = "from solution import *\n\ndef test_small():\n    assert add(1, 2) == 3\n"
TASK = "Write add(a, b) returning the sum of two numbers."


def client_for(context, settings: Settings | None = None, probe=None) -> TestClient:
    app = create_app(
        settings or Settings(rate_limit=0),
        context=lambda: context,
        probe=probe or (lambda spec: Probe("local")),
    )
    return TestClient(app, raise_server_exceptions=False)


def test_generate_returns_code_and_tests(scripted):
    context, model = scripted(
        [reply_with_code(ADD), reply_with_tests("def test_a():\n    assert add(1, 2) == 3")]
    )
    reply = client_for(context).post("/generate", json={"task": TASK})
    assert reply.status_code == 200
    body = reply.json()
    assert body["code"].strip() == ADD.strip()
    assert "def test_a" in body["tests"]
    assert body["error"] is None
    assert body["tokens"]["completion"] > 0
    assert len(model.prompts) == 2  # the loop's two turns: solution, then tests


def test_generate_without_usable_code_says_why(scripted):
    context, _ = scripted(["I cannot do that.", "Nor that."])
    body = client_for(context).post("/generate", json={"task": TASK}).json()
    assert body["code"] == ""
    assert body["error"]


def test_review_runs_the_tests_and_the_reviewer(scripted):
    context, model = scripted([reply_with_verdict(True, 9)])
    reply = client_for(context).post(
        "/review", json={"task": TASK, "code": ADD, "tests": ADD_TESTS}
    )
    assert reply.status_code == 200
    body = reply.json()
    assert body["approved"] is True
    assert body["report"]["status"] == "passed"
    assert body["report"]["tests"] == [
        {"name": "test_small", "outcome": "passed", "message": "", "judged_in_process": True}
    ]
    assert body["verdict"]["score"] == 9
    assert set(body["seconds"]) == {"execute", "review"}
    assert len(model.prompts) == 1


def test_review_never_approves_failing_tests_and_asks_no_reviewer(scripted):
    context, model = scripted([reply_with_verdict(True, 10)])
    bug = ADD.replace("a + b", "a - b")
    body = (
        client_for(context)
        .post("/review", json={"task": TASK, "code": bug, "tests": ADD_TESTS})
        .json()
    )
    assert body["verdict"] is None and model.prompts == []
    assert body["report"]["status"] == "failed"
    assert "assert -1 == 3" in body["report"]["tests"][0]["message"]
    assert body["approved"] is False


def test_review_without_tests_runs_the_task_examples(scripted):
    context, _ = scripted([reply_with_verdict(True, 8)])
    task = TASK + "\nadd(2, 3) == 5"
    body = client_for(context).post("/review", json={"task": task, "code": ADD}).json()
    assert body["report"]["status"] == "passed"
    assert body["report"]["total"] == 1
    assert body["approved"] is True


def test_review_with_nothing_to_test_asks_no_model_and_says_why(scripted):
    context, model = scripted([])
    body = client_for(context).post("/review", json={"task": TASK, "code": ADD}).json()
    assert body["approved"] is False
    assert body["report"]["status"] == "error"
    assert NO_TESTS in body["report"]["detail"]
    assert body["verdict"] is None
    assert model.prompts == []


@pytest.mark.parametrize(
    ("path", "payload", "expected"),
    [
        (
            "/generate",
            {"task": "x" * 10_001},
            "task: the task has 10,001 characters; the limit is 10,000",
        ),
        ("/generate", {"task": "   "}, "task: the task is empty"),
        ("/generate", {}, "task: Field required"),
        ("/generate", {"task": "t", "model": "x"}, "model: Extra inputs are not permitted"),
        (
            "/review",
            {"task": "t", "code": "x" * 100_001},
            "code: the code is 100,001 bytes; the limit is 100,000",
        ),
        (
            "/review",
            {"task": "t", "code": "x", "tests": "é" * 50_001},
            "tests: the tests is 100,002 bytes",
        ),
        ("/review", {"task": "t", "code": " "}, "code: the code is empty"),
        ("/review", {"task": 5, "code": "x"}, "task: Input should be a valid string"),
    ],
)
def test_bad_fields_are_422_naming_the_field(scripted, path, payload, expected):
    context, model = scripted([])
    reply = client_for(context).post(path, json=payload)
    assert reply.status_code == 422
    assert reply.json()["detail"].startswith(expected)
    assert model.prompts == []


def test_malformed_json_is_422(scripted):
    context, _ = scripted([])
    reply = client_for(context).post(
        "/generate", content=b'{"task": ', headers={"content-type": "application/json"}
    )
    assert reply.status_code == 422
    assert reply.json() == {"detail": "the request body is not valid JSON (Expecting value)"}


def test_a_body_over_the_cap_is_413_with_or_without_content_length(scripted):
    context, _ = scripted([])
    client = client_for(context, Settings(rate_limit=0, max_body_bytes=1000))
    big = b'{"task": "' + b"x" * 2000 + b'"}'
    declared = client.post("/generate", content=big, headers={"content-type": "application/json"})
    assert declared.status_code == 413
    assert declared.json() == {"detail": "the request body is over the limit of 1,000 bytes"}

    def chunks():
        yield big[:600]
        yield big[600:]

    chunked = client.post(
        "/generate", content=chunks(), headers={"content-type": "application/json"}
    )
    assert chunked.status_code == 413


def test_rate_limit_answers_429_with_retry_after_and_spares_health(scripted):
    context, _ = scripted([])
    client = client_for(context, Settings(rate_limit=2))
    codes = [client.post("/review", json={}).status_code for _ in range(3)]
    assert codes == [422, 422, 429]
    limited = client.post("/generate", json={"task": TASK})
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert "2 requests per minute" in limited.json()["detail"]
    assert [client.get("/health").status_code for _ in range(3)] == [200, 200, 200]


def test_cors_is_off_by_default_and_allows_only_configured_origins(scripted):
    context, _ = scripted([])
    closed = client_for(context)
    assert (
        "access-control-allow-origin"
        not in closed.get("/health", headers={"origin": "http://a.example"}).headers
    )
    opened = client_for(context, Settings(rate_limit=0, cors_origins=("http://a.example",)))
    allowed = opened.get("/health", headers={"origin": "http://a.example"})
    assert allowed.headers["access-control-allow-origin"] == "http://a.example"
    other = opened.get("/health", headers={"origin": "http://b.example"})
    assert "access-control-allow-origin" not in other.headers
    preflight = {"origin": "http://b.example", "access-control-request-method": "POST"}
    assert opened.options("/generate", headers=preflight).status_code == 400
    preflight["origin"] = "http://a.example"
    assert opened.options("/generate", headers=preflight).status_code == 200


def test_health_is_503_with_the_reason_when_the_backend_cannot_serve(scripted):
    context, _ = scripted([])
    client = client_for(context, probe=lambda spec: Probe("tgi", "the TGI server is unreachable"))
    reply = client.get("/health")
    assert reply.status_code == 503
    assert reply.json() == {
        "status": "unavailable",
        "backend": "tgi",
        "version": "0.1.0",
        "reason": "the TGI server is unreachable",
    }
    ok = client_for(context).get("/health")
    assert (ok.status_code, ok.json()["status"], ok.json()["reason"]) == (200, "ok", None)


@pytest.mark.parametrize(
    ("error", "status", "detail"),
    [
        (
            ModelTimeoutError("the embedded model took longer than 300 s"),
            504,
            "the model did not answer in time",
        ),
        (
            RuntimeError("boom at /home/me/.secret token=hf_abc"),
            500,
            "internal error (details in the server log)",
        ),
        (
            ConnectionRefusedError("connect to 10.0.0.1:8080 refused"),
            503,
            "the model backend is unavailable (details in the server log)",
        ),
    ],
)
def test_errors_in_the_work_are_one_clean_line(scripted, error, status, detail):
    def fail(messages, options):
        raise error

    context, _ = scripted(fail)
    reply = client_for(context).post("/generate", json={"task": TASK})
    assert reply.status_code == status
    assert reply.json() == {"detail": detail}


def test_the_mounted_app_loads_by_file_path_as_the_langgraph_server_loads_it():
    import importlib.util
    import json
    from pathlib import Path

    from fastapi import FastAPI

    repo = Path(__file__).resolve().parents[2]
    path, _, name = json.loads((repo / "langgraph.json").read_text())["http"]["app"].rpartition(":")
    spec = importlib.util.spec_from_file_location("user_router_module", repo / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # not registered in sys.modules, as there
    assert isinstance(getattr(module, name), FastAPI)
