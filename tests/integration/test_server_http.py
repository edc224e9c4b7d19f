"""The service endpoints on a real `langgraph dev` server, over plain HTTP.

Two servers: one configured through its .env (a high rate limit so the other tests do
not trip it, one CORS origin), and one with no .env at all (the defaults: 10 requests a
minute, no CORS origins) whose model backend is an unreachable TGI server.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from codeloop import __version__
from codeloop.server.health import check_backend
from tests.langgraph_server import REPO, free_port, langgraph_dev

pytestmark = pytest.mark.integration

ALLOWED = "http://allowed.example"
FIZZBUZZ = (
    "Write a function fizzbuzz(n) that returns a list of strings for 1..n: 'Fizz' for "
    "multiples of 3, 'Buzz' for multiples of 5, 'FizzBuzz' for multiples of both, "
    "otherwise the number itself."
)
IS_EVEN = "Write a function is_even(n) that returns True if the integer n is even."
FIZZBUZZ_CODE = '''def fizzbuzz(n):
    """Return the FizzBuzz words for 1..n."""
    out = []
    for i in range(1, n + 1):
        word = ("Fizz" if i % 3 == 0 else "") + ("Buzz" if i % 5 == 0 else "")
        out.append(word or str(i))
    return out
'''
FIZZBUZZ_TESTS = """from solution import *

def test_first_five():
    assert fizzbuzz(5) == ["1", "2", "Fizz", "4", "Buzz"]

def test_fifteen_is_fizzbuzz():
    assert fizzbuzz(15)[-1] == "FizzBuzz"

def test_empty():
    assert fizzbuzz(0) == []
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("service")
    (workdir / ".env").write_text(f"CODELOOP_RATE_LIMIT=1000\nCODELOOP_CORS_ORIGINS={ALLOWED}\n")
    with langgraph_dev(workdir) as running:
        yield running


@pytest.fixture(scope="module")
def service(server):
    with httpx.Client(base_url=server.url, timeout=600) as client:
        yield client


@pytest.fixture(scope="module")
def default_server(tmp_path_factory):
    unreachable = f"tgi:http://127.0.0.1:{free_port()}"
    with langgraph_dev(tmp_path_factory.mktemp("defaults"), {"CODELOOP_MODEL": unreachable}) as s:
        yield s


def assert_clean(reply: httpx.Response) -> None:
    """An error body is one line of JSON: no trace, no file path."""
    text = reply.text
    assert set(reply.json()) == {"detail"}
    assert "Traceback" not in text and str(REPO) not in text and "site-packages" not in text
    assert "\n" not in reply.json()["detail"]


def test_health_reports_the_backend_and_the_version(service):
    reply = service.get("/health")
    assert reply.status_code == 200, reply.text
    assert reply.json() == {
        "status": "ok",
        "backend": "local",
        "version": __version__,
        "reason": None,
    }


def test_generate_writes_code_and_tests(service):
    reply = service.post("/generate", json={"task": IS_EVEN})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["error"] is None
    assert "def is_even" in body["code"]
    assert "def test_" in body["tests"] and "from solution import" in body["tests"]
    assert body["tokens"]["completion"] > 0 and body["seconds"] > 0


def test_review_runs_the_tests_in_the_sandbox_and_gives_a_verdict(service):
    reply = service.post(
        "/review", json={"task": FIZZBUZZ, "code": FIZZBUZZ_CODE, "tests": FIZZBUZZ_TESTS}
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    report, verdict = body["report"], body["verdict"]
    assert (report["status"], report["passed"], report["total"]) == ("passed", 3, 3)
    assert 0 <= verdict["score"] <= 10
    assert body["approved"] == (verdict["approved"] and verdict["score"] >= 6)


def test_review_of_failing_code_reports_the_failure_and_never_approves(service):
    broken = FIZZBUZZ_CODE.replace("i % 5 == 0", "i % 7 == 0")
    reply = service.post(
        "/review", json={"task": FIZZBUZZ, "code": broken, "tests": FIZZBUZZ_TESTS}
    )
    body = reply.json()
    assert body["report"]["status"] == "failed"
    failing = {t["name"]: t["message"] for t in body["report"]["tests"] if t["outcome"] == "failed"}
    assert set(failing) == {"test_first_five", "test_fifteen_is_fizzbuzz"}
    assert "Buzz" in failing["test_first_five"]
    assert body["approved"] is False


@pytest.mark.parametrize(
    ("path", "payload", "status", "detail"),
    [
        ("/generate", {"task": "x" * 10_001}, 422, "task: the task has 10,001 characters"),
        ("/review", {"task": "t", "code": "x" * 100_001}, 422, "code: the code is 100,001 bytes"),
        (
            "/review",
            {"task": "t", "code": "x" * 600_000},
            413,
            "the request body is over the limit",
        ),
    ],
)
def test_oversize_input_is_refused_with_a_clear_message(service, path, payload, status, detail):
    reply = service.post(path, json=payload)
    assert reply.status_code == status
    assert reply.json()["detail"].startswith(detail)
    assert_clean(reply)


@pytest.mark.parametrize("body", [b'{"task": ', b"task=hello", b"[1, 2"])
def test_malformed_json_is_422(service, body):
    reply = service.post("/generate", content=body, headers={"content-type": "application/json"})
    assert reply.status_code == 422
    assert reply.json()["detail"].startswith("the request body is not valid JSON")
    assert_clean(reply)


def test_cors_answers_only_the_configured_origin_and_leaves_studio_access_alone(service):
    allowed = service.get("/health", headers={"origin": ALLOWED})
    assert allowed.headers["access-control-allow-origin"] == ALLOWED
    other = service.get("/health", headers={"origin": "http://other.example"})
    assert "access-control-allow-origin" not in other.headers
    preflight = {"origin": "http://other.example", "access-control-request-method": "POST"}
    assert service.options("/generate", headers=preflight).status_code == 400
    # LangGraph's own API keeps its CORS policy (Studio calls it from its own origin).
    studio = service.get("/ok", headers={"origin": "https://smith.langchain.com"})
    assert studio.headers["access-control-allow-origin"] == "*"


def test_openapi_documents_the_service_next_to_langgraph_api(service):
    spec = service.get("/openapi.json").json()
    assert {"/health", "/generate", "/review", "/threads"} <= set(spec["paths"])
    generate = spec["paths"]["/generate"]["post"]
    assert {"200", "413", "422", "429"} <= set(generate["responses"])
    assert "task" in spec["components"]["schemas"]["GenerateRequest"]["properties"]
    assert service.get("/docs").status_code == 200


def test_the_eleventh_request_in_a_minute_is_429_per_client(default_server):
    with httpx.Client(base_url=default_server.url, timeout=30) as client:
        codes = [client.post("/review", json={"task": "t"}).status_code for _ in range(11)]
        limited = client.post("/generate", json={"task": "t"})
    assert codes == [422] * 10 + [429]
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.json()["detail"].startswith("rate limit: 10 requests per minute per client")
    elsewhere = httpx.HTTPTransport(local_address="127.0.0.2")  # another client address
    with httpx.Client(base_url=default_server.url, transport=elsewhere, timeout=30) as client:
        assert client.post("/review", json={"task": "t"}).status_code == 422


def test_without_settings_no_origin_is_allowed(default_server):
    reply = httpx.get(f"{default_server.url}/health", headers={"origin": ALLOWED}, timeout=30)
    assert "access-control-allow-origin" not in reply.headers


def test_health_is_503_with_the_reason_when_the_backend_is_unreachable(default_server):
    reply = httpx.get(f"{default_server.url}/health", timeout=30)
    assert reply.status_code == 503
    body = reply.json()
    assert (body["status"], body["backend"], body["version"]) == ("unavailable", "tgi", __version__)
    assert body["reason"] == "the TGI server is unreachable (Connection refused)"


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        payload = json.dumps({"path": self.path}).encode()
        self.send_response(self.status if self.path == "/health" else 404)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args) -> None:
        pass


@pytest.mark.parametrize(
    ("status", "reason", "query"),
    [(200, None, ""), (503, "the TGI server answered HTTP 503 to /health", ""),
     (200, None, "?family=starcoder")],
)
def test_tgi_probe_asks_the_servers_own_health(status, reason, query):
    handler = type("Handler", (_Health,), {"status": status})
    stub = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=stub.serve_forever, daemon=True).start()
    try:
        probe = check_backend(f"tgi:http://127.0.0.1:{stub.server_address[1]}{query}")
    finally:
        stub.shutdown()
        stub.server_close()
    assert (probe.backend, probe.reason) == ("tgi", reason)
