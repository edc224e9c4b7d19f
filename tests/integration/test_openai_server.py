"""The `openai:` route against a real OpenAI-compatible server: llama.cpp's own.

`python -m llama_cpp.server` serves the embedded GGUF on 127.0.0.1 (tests/openai_server.py);
codeloop reaches it through LangChain's ChatOpenAI, as it would reach vLLM or SGLang. Whole
`codeloop run` processes go through it, once as the only model and once as the reviewer
beside the embedded model generating.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage

from codeloop.context import Context
from codeloop.models import load_model
from codeloop.models.model_file import resolve_model_file
from codeloop.server.health import check_backend
from codeloop.server.steps import review_once
from tests.langgraph_server import REPO, free_port
from tests.openai_server import llama_server

pytestmark = pytest.mark.integration
TASK = "Write a function add(a, b) that returns the sum of a and b. Example: add(2, 3) == 5"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with llama_server(resolve_model_file(), log) as running:
        yield running


def codeloop_run(out: Path, *args: str) -> tuple[int, dict, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    env.pop("OPENAI_API_KEY", None)
    done = subprocess.run(
        [sys.executable, "-m", "codeloop.cli", "run", "--json", "--out", str(out), *args, TASK],
        env=env, capture_output=True, text=True, timeout=900, check=False,
    )
    report = json.loads(done.stdout) if done.stdout.strip() else {}
    return done.returncode, report, done.stderr


def test_a_full_run_through_the_openai_route(server, tmp_path):
    before = server.chat_requests()
    code, report, err = codeloop_run(tmp_path, "--model", server.spec(), "--max-iterations", "2")
    assert code in (0, 1), err  # approved or not: the small model decides, not the route
    assert report["context"]["model"] == server.spec()
    first = report["attempts"][0]
    assert "def add" in first["code"] and first["report"]["total"] >= 1
    # solution, tests and (for an attempt that passed) the review all went to the server
    assert server.chat_requests() - before >= 2
    [folder] = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert "def add" in (folder / "solution.py").read_text()


def test_the_embedded_model_generates_and_the_server_reviews(server, tmp_path):
    before = server.chat_requests()
    reviewer = server.spec(max_retries="0")
    code, report, err = codeloop_run(tmp_path, "--model", "local", "--reviewer-model", reviewer,
                                     "--max-iterations", "2")
    assert code in (0, 1), err
    assert report["context"]["model"] == "local"
    assert report["context"]["reviewer_model"] == reviewer
    assert all("def add" in a["code"] for a in report["attempts"])
    # Only reviews reach the server: a verdict takes one to three requests (a refused
    # structured request, the plain one, a repair); the generator's calls stay in process.
    # Whether an attempt gets reviewed is the small model's doing (failing checks skip it).
    reviewed = [a for a in report["attempts"] if a.get("verdict") or a.get("review_error")]
    sent = server.chat_requests() - before
    assert len(reviewed) <= sent <= 3 * len(reviewed)


def test_the_review_goes_to_the_server(server):
    """The review node itself, on code that passes its tests, so a review is always asked."""
    before = server.chat_requests()
    context = Context(model="local", reviewer_model=server.spec(max_retries="0"))
    tests = "from solution import *\n\ndef test_add():\n    assert add(2, 3) == 5\n"
    attempt = review_once(TASK, "def add(a, b):\n    return a + b\n", tests, context)
    assert attempt["report"]["status"] == "passed"
    assert attempt.get("verdict") or attempt.get("review_error")
    assert server.chat_requests() > before


def test_the_server_keeps_to_the_token_limit(server):
    """Sent as `max_tokens` too: llama-cpp-python's server ignores `max_completion_tokens`."""
    model = load_model(server.spec(), timeout=300)
    ask = "Write a long Python module with ten functions, each with a docstring."
    reply = model.invoke([HumanMessage(ask)], max_tokens=8, temperature=0.0)
    assert reply.usage_metadata["output_tokens"] <= 8
    assert reply.response_metadata["finish_reason"] == "length"


def test_health_probes_the_servers_models_route(server):
    assert check_backend(server.spec()).reason is None
    down = f"openai:qwen?base_url=http://127.0.0.1:{free_port()}/v1"
    assert check_backend(down).reason == "the model server is unreachable (Connection refused)"
