"""Whole runs of the loop against the replay TGI server: graph, streaming, CLI, failures.

The replay answers in TGI's response shape with scripted code, tests and verdicts, chosen
by what each request asks for (a grammar means the review; a prompt ending in the tests'
given start means the tests). The generated tests really run in the sandbox.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from codeloop.cli import main
from codeloop.context import Context
from codeloop.graph import graph
from codeloop.models.tgi import connect
from codeloop.prompts.starcoder import TESTS_START, StarCoderPrompts
from codeloop.runs.runner import run_task
from tests.tgi_replay import REPO, SHARED, ReplayServer, Reply, error, generate_response

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not SHARED.is_dir(), reason=f"TGI contract data not found at {SHARED}"),
]
TASK = "Write add(a, b) returning the sum of two numbers."
# What StarCoder writes: the code, then a main guard, where the stop sequence ends it.
CODE = "def add(a, b):\n    return a + b\n\n\nif __name__"
BUGGY = "def add(a, b):\n    return a - b\n\n\nif __name__"
TESTS = "small():\n    assert add(1, 2) == 3\n\n\ndef test_zero():\n    assert add(0, 0) == 0\n"


def verdict(approved: bool, score: int) -> str:
    return json.dumps({"issues": [], "suggestions": [], "score": score, "approved": approved})


class Loop:
    """Answers each request of the loop like StarCoder would, recording what was asked."""

    def __init__(self, codes: list[str], verdicts: list[str]) -> None:
        self.codes, self.verdicts = list(codes), list(verdicts)
        self.prompts: list[str] = []

    def __call__(self, body: dict) -> Reply:
        self.prompts.append(body["inputs"])
        if "grammar" in body["parameters"]:
            return Reply(body=generate_response(self.verdicts.pop(0)))
        if body["inputs"].endswith(TESTS_START):
            return Reply(body=generate_response(TESTS))
        return Reply(body=generate_response(self.codes.pop(0), "stop_sequence"))


@pytest.fixture
def tgi(monkeypatch):
    monkeypatch.delenv("CODELOOP_PROMPT_FAMILY", raising=False)
    with ReplayServer() as server:
        yield server
        connect.cache_clear()
        assert server.contract_problems() == []


def test_streamed_run_is_approved_and_counts_tokens(tgi):
    loop = Loop([CODE], [verdict(True, 9)])
    tgi.script("/generate_stream", loop)
    seen_tokens = []
    result = run_task(
        TASK, Context(model=f"tgi:{tgi.url}"), on_progress=lambda p: seen_tokens.append(p.tokens)
    )
    assert result.status == "approved"
    assert result.final["code"] == "def add(a, b):\n    return a + b\n"  # cut at the stop
    assert result.final["report"]["passed"] == 2
    assert seen_tokens[-1] > 20  # the progress view counted streamed tokens
    assert not tgi.requests("/generate")  # every reply streamed
    solution, tests, review = (s.body["parameters"] for s in tgi.requests("/generate_stream"))
    assert solution["stop"] == tests["stop"] == list(StarCoderPrompts.stop)
    assert "grammar" in review and "grammar" not in solution
    assert result.final["tokens"]["completion"] > 0 and result.final["tokens"]["prompt"] > 0


def test_invoked_run_retries_overload_and_feeds_back_failures(tgi):
    loop = Loop([BUGGY, CODE], [verdict(True, 9)])  # failing tests are not reviewed
    tgi.script("/generate_stream", Reply(429, error("Model is overloaded", "overloaded")), loop)
    out = graph.invoke({"task": TASK}, context=Context(model=f"tgi:{tgi.url}"))
    assert out["status"] == "approved"
    assert [a["approved"] for a in out["attempts"]] == [False, True]
    # one 429, then the solution, its tests, the second solution and its review
    assert len(loop.prompts) == 4
    assert len(tgi.requests("/generate_stream")) == 5
    second = loop.prompts[2]
    assert "#         return a - b" in second  # the rejected code, as comments
    assert "#     E   assert -1 == 3" in second  # pytest's failure message reached the model
    assert second.index("# Task:") < second.index("A previous solution")


def test_cli_run_against_tgi(tgi, tmp_path, capsys):
    tgi.script("/generate_stream", Loop([CODE], [verdict(True, 9)]))
    code = main(["run", "--model", f"tgi:{tgi.url}", "--out", str(tmp_path), "--json", TASK])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "approved"
    [folder] = [p for p in tmp_path.iterdir() if p.is_dir()]  # beside it: codeloop.db
    assert (folder / "solution.py").read_text() == "def add(a, b):\n    return a + b\n"


def test_cli_reports_an_unhealthy_tgi_in_one_line(tgi, tmp_path, capsys):
    unhealthy = Reply(503, error("unhealthy", "healthcheck"))
    tgi.script("/health", unhealthy, unhealthy, unhealthy)
    code = main(["run", "--model", f"tgi:{tgi.url}", "--out", str(tmp_path), TASK])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines() == [
        f"error: TGI {tgi.url}/health: HTTP 503: unhealthy (healthcheck) "
        "(gave up after 3 attempts)"
    ]
    assert not list(tmp_path.iterdir())  # nothing was written


def test_cli_run_stops_at_a_validation_error_with_one_line(tgi, tmp_path, capsys):
    cause = "Input validation error: `inputs` must have less than 6144 tokens. Given: 7000"
    tgi.script("/generate_stream", Reply(422, error(cause, "validation")))
    code = main(["run", "--model", f"tgi:{tgi.url}", "--out", str(tmp_path), TASK])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines()[-1] == f"error: TGI {tgi.url}/: HTTP 422: {cause} (validation)"
    assert len(tgi.requests("/generate_stream")) == 1  # a 422 is not retried


def test_cli_run_against_tgi_with_hf_hub_offline_set(tgi, tmp_path):
    """HF_HUB_OFFLINE=1 (read when huggingface_hub is imported) must not cut off the TGI server."""
    tgi.script("/generate_stream", Loop([CODE], [verdict(True, 9)]))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run(
        [sys.executable, "-m", "codeloop.cli", "run", "--model", f"tgi:{tgi.url}", "--out",
         str(tmp_path), TASK],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "approved after 1 iteration(s)" in done.stderr
