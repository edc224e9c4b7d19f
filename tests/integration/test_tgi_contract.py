"""The TGI backend against a replay of real TGI responses, over a real socket.

Every request codeloop sends is checked against TGI's OpenAPI description by the replay
server (see tests/tgi_replay.py); the `replay` fixture fails a test that broke it.
"""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest
from langchain_core.messages import AIMessageChunk, HumanMessage

from codeloop.models import load_model
from codeloop.models.tgi import connect, load_tgi
from codeloop.models.tgi_client import REQUEST_TIMEOUT, TGIClient, TGIError
from codeloop.nodes.review import verdict_schema
from codeloop.prompts.starcoder import StarCoderPrompts
from tests.tgi_openapi import Contract
from tests.tgi_replay import (
    SHARED,
    ReplayServer,
    Reply,
    error,
    generate_response,
    snapshot,
    tokens_of,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not SHARED.is_dir(), reason=f"TGI contract data not found at {SHARED}"),
]
HELLO = "flash_starcoder__test_flash_starcoder"  # bigcode/starcoder, "def print_hello", 10 tokens
OVERLOADED = error("Model is overloaded", "overloaded")


@pytest.fixture
def replay(monkeypatch):
    """Start replay servers; at the end, every request and reply must have kept the contract."""
    monkeypatch.delenv("CODELOOP_PROMPT_FAMILY", raising=False)
    servers: list[ReplayServer] = []

    def start(**info) -> ReplayServer:
        server = ReplayServer(info).__enter__()
        servers.append(server)
        return server

    yield start
    connect.cache_clear()
    for server in servers:
        server.__exit__()
    assert [p for s in servers for p in s.contract_problems()] == []


def ask(text: str = "def print_hello") -> list[HumanMessage]:
    return [HumanMessage(text)]


def joined(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    return total


def test_start_checks_health_then_reads_info(replay):
    tgi = replay()
    model = load_model(f"tgi:{tgi.url}", timeout=120)
    assert [(s.method, s.path) for s in tgi.seen] == [("GET", "/health"), ("GET", "/info")]
    assert model.prompt_family == "starcoder"
    assert (model.max_input_tokens, model.max_total_tokens) == (6144, 8192)
    assert model.timeout == 120
    load_model(f"tgi:{tgi.url}")
    assert len(tgi.seen) == 2  # cached per URL: no second health check


def test_generate_returns_the_recorded_starcoder_reply(replay):
    tgi = replay()
    recorded = snapshot(HELLO)
    tgi.script("/generate", Reply(body=recorded))
    reply = load_tgi(tgi.url).invoke(ask(), max_tokens=10, stop=list(StarCoderPrompts.stop))
    assert reply.content == recorded["generated_text"]
    assert reply.response_metadata["finish_reason"] == "length"
    assert reply.usage_metadata["output_tokens"] == 10
    assert reply.usage_metadata["input_tokens"] == len(tokens_of("def print_hello"))
    params = tgi.requests("/generate")[0].body["parameters"]
    assert params["max_new_tokens"] == 10 and params["do_sample"] is False
    assert params["stop"] == list(StarCoderPrompts.stop)


def test_stream_yields_each_recorded_token(replay):
    tgi = replay()
    recorded = snapshot(HELLO)
    tgi.script("/generate_stream", Reply(body=recorded))
    chunks = list(load_tgi(tgi.url).stream(ask(), max_tokens=10))
    texts = [c.content for c in chunks if c.content]
    assert texts == [t["text"] for t in recorded["details"]["tokens"]]
    total = joined(chunks)
    assert total.content == recorded["generated_text"]
    assert total.usage_metadata["output_tokens"] == 10
    assert total.usage_metadata["input_tokens"] == len(tokens_of("def print_hello"))
    assert total.response_metadata["finish_reason"] == "length"


def test_stop_sequence_is_cut_from_reply_and_stream(replay):
    tgi = replay()
    recorded = snapshot(HELLO)  # ends "...World\")\n\ndef"
    tgi.script("/generate", Reply(body=recorded))
    tgi.script("/generate_stream", Reply(body=recorded))
    model = load_tgi(tgi.url)
    assert model.invoke(ask(), stop=["\ndef"]).content == '():\n    print("Hello World")\n'
    assert joined(list(model.stream(ask(), stop=["\ndef"]))).content == (
        '():\n    print("Hello World")\n'
    )


def test_sampling_sends_temperature_and_seed(replay):
    tgi = replay()
    sampled = snapshot("flash_starcoder__test_flash_starcoder_default_params")
    tgi.script("/generate", Reply(body=sampled))
    reply = load_tgi(tgi.url).invoke(ask(), temperature=0.2, seed=0, max_tokens=60)
    params = tgi.requests("/generate")[0].body["parameters"]
    assert (params["do_sample"], params["temperature"], params["seed"]) == (True, 0.2, 1)
    assert reply.usage_metadata["output_tokens"] == 60


def test_review_asks_for_the_verdict_under_tgi_json_grammar(replay):
    tgi = replay()
    grammar_reply = snapshot("flash_grammar_llama__test_flash_llama_grammar_json")
    tgi.script("/generate", Reply(body=grammar_reply))
    reply = load_tgi(tgi.url).invoke(ask("{"), json_schema=verdict_schema(), max_tokens=100)
    grammar = tgi.requests("/generate")[0].body["parameters"]["grammar"]
    assert grammar == {"type": "json", "value": verdict_schema()}
    assert reply.content == grammar_reply["generated_text"]
    assert reply.response_metadata["finish_reason"] == "stop"  # TGI's eos_token


def test_overloaded_then_success_is_retried_after_a_backoff(replay):
    tgi = replay()
    tgi.script("/generate", Reply(429, OVERLOADED), Reply(body=snapshot(HELLO)))
    started = time.monotonic()
    reply = load_tgi(tgi.url).invoke(ask())
    assert time.monotonic() - started >= 1.0  # the first backoff step
    assert reply.content == snapshot(HELLO)["generated_text"]
    assert len(tgi.requests("/generate")) == 2


def test_overload_reported_inside_a_stream_is_retried(replay):
    """TGI answers a full queue on /generate_stream with a 200 and an error event."""
    tgi = replay()
    tgi.script("/generate_stream", Reply(events=[OVERLOADED]), Reply(body=snapshot(HELLO)))
    total = joined(list(load_tgi(tgi.url).stream(ask())))
    assert total.content == snapshot(HELLO)["generated_text"]
    assert len(tgi.requests("/generate_stream")) == 2


def test_unhealthy_server_fails_after_three_attempts_with_one_line(replay):
    tgi = replay()
    unhealthy = Reply(503, error("unhealthy", "healthcheck"))
    tgi.script("/health", unhealthy, unhealthy, unhealthy)
    with pytest.raises(TGIError) as caught:
        load_tgi(tgi.url)
    message = str(caught.value)
    assert message == (
        f"TGI {tgi.url}/health: HTTP 503: unhealthy (healthcheck) (gave up after 3 attempts)"
    )
    assert len(tgi.requests("/health")) == 3 and not tgi.requests("/info")


def test_validation_error_is_not_retried(replay):
    tgi = replay()
    cause = "Input validation error: `inputs` must have less than 6144 tokens. Given: 7000"
    tgi.script("/generate", Reply(422, error(cause, "validation")))
    with pytest.raises(TGIError) as caught:
        load_tgi(tgi.url).invoke(ask())
    assert str(caught.value) == f"TGI {tgi.url}/generate: HTTP 422: {cause} (validation)"
    assert len(tgi.requests("/generate")) == 1


def test_validation_error_inside_a_stream_is_not_retried(replay):
    tgi = replay()
    tgi.script("/generate_stream", Reply(events=[error("Input validation error", "validation")]))
    with pytest.raises(TGIError, match="generate_stream: Input validation error"):
        list(load_tgi(tgi.url).stream(ask()))
    assert len(tgi.requests("/generate_stream")) == 1


def test_nothing_listening_is_one_line_after_three_attempts():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(TGIError) as caught:
        load_tgi(url)
    message = str(caught.value)
    assert message.startswith(f"TGI {url}/health: cannot connect")
    assert message.endswith("(gave up after 3 attempts)") and "\n" not in message


def test_requests_time_out(replay):
    tgi = replay()
    assert REQUEST_TIMEOUT == 60
    model = load_tgi(tgi.url)
    assert model._client.http.timeout == httpx.Timeout(60.0)
    tgi.script("/generate", Reply(body=snapshot(HELLO), delay=1.5))
    client = TGIClient(tgi.url, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(TGIError, match=r"/generate: no answer within 0\.5 s"):
        client.post("/generate", {"inputs": "def print_hello"})
    assert time.monotonic() - started < 1.4  # not retried: a slow server is not overloaded


def test_old_feedback_is_dropped_to_fit_the_window_but_never_the_task(replay):
    tgi = replay(max_input_tokens=300, max_total_tokens=700)
    tgi.script("/generate", Reply(body=generate_response("def add(a, b):\n    return a + b\n")))
    prompts = StarCoderPrompts()
    previous = {
        "iteration": 1, "parse_error": None,
        "code": "def add(a, b):\n" + "    x = a - b\n" * 40 + "    return x\n",
        "tests": "def test_small():\n" + "    assert add(1, 2) == 3\n" * 40,
    }
    messages = prompts.generation("Write add(a, b) returning the sum.", "", previous, None)
    load_tgi(tgi.url).invoke(messages, max_tokens=256)
    sent = tgi.requests("/generate")[0].body
    assert "# Write add(a, b) returning the sum." in sent["inputs"]
    assert "assert add(1, 2) == 3" not in sent["inputs"]  # the old tests went first
    assert len(tokens_of(sent["inputs"])) <= 300
    assert sent["parameters"]["max_new_tokens"] <= 700 - len(tokens_of(sent["inputs"]))
    assert tgi.requests("/tokenize")  # counted by the server's tokenizer


def test_a_task_too_long_for_the_window_fails_before_generating(replay):
    tgi = replay(max_input_tokens=50, max_total_tokens=400)
    prompts = StarCoderPrompts()
    task = "Write a function that " + "does one more thing and " * 40
    with pytest.raises(TGIError, match=r"/generate: the prompt needs .* shorten the task"):
        load_tgi(tgi.url).invoke(prompts.generation(task, "", None, None))
    assert not tgi.requests("/generate")


def test_chat_model_uses_the_chat_route(replay):
    tgi = replay(model_id="meta-llama/Llama-3.1-8B-Instruct")
    recorded = snapshot("chat_llama__test_flash_llama_simple")
    events = snapshot("completion_prompts__test_flash_llama_completion_stream_usage")
    tgi.script("/v1/chat/completions", Reply(body=recorded), Reply(events=[*events, "[DONE]"]))
    model = load_tgi(tgi.url)
    assert model.prompt_family == "chat"
    reply = model.invoke(ask("What is the weather like in Brooklyn?"), max_tokens=100)
    assert reply.content == recorded["choices"][0]["message"]["content"]
    assert reply.usage_metadata["input_tokens"] == 61
    assert reply.response_metadata["finish_reason"] == "length"
    total = joined(list(model.stream(ask("What is Deep Learning?"), max_tokens=10)))
    expected = "".join(e["choices"][0]["delta"]["content"] for e in events if e["choices"])
    assert total.content == expected
    assert (total.usage_metadata["input_tokens"], total.usage_metadata["output_tokens"]) == (40, 10)
    first, second = tgi.requests("/v1/chat/completions")
    assert first.body["stream"] is False and second.body["stream"] is True


def test_family_from_spec_parameter_or_environment(replay, monkeypatch):
    starcoder = replay()
    assert load_tgi(f"{starcoder.url}?family=chat").prompt_family == "chat"
    llama = replay(model_id="meta-llama/Llama-3.1-8B-Instruct")
    monkeypatch.setenv("CODELOOP_PROMPT_FAMILY", "starcoder")
    assert load_tgi(llama.url).prompt_family == "starcoder"
    with pytest.raises(ValueError, match="unknown prompt family 'gpt'"):
        load_tgi(f"{llama.url}?family=gpt")


def test_the_contract_check_rejects_what_tgi_rejects_and_accepts_what_it_sends():
    """The replay's validation can fail: requests TGI refuses, replies TGI really sent."""
    openapi = json.loads((SHARED / "openapi.json").read_text("utf-8"))
    requests, replies = Contract(openapi), Contract(openapi, replies=True)
    bad = {"inputs": "x", "parameters": {"temperature": 0, "stop": ["a"] * 5, "max_tokens": 9}}
    found = " ".join(requests.problems("GenerateRequest", bad))
    assert "temperature: 0 is less than or equal to the minimum of 0" in found
    assert "stop: ['a', 'a', 'a', 'a', 'a'] is too long" in found
    assert "'max_tokens' was unexpected" in found  # a chat parameter on the generate route
    assert requests.problems("GenerateRequest", {"inputs": "x", "parameters": {"seed": 1}}) == []
    for name in ("flash_starcoder__test_flash_starcoder_default_params",
                 "flash_grammar_llama__test_flash_llama_grammar_json"):
        assert replies.problems("GenerateResponse", snapshot(name)) == []
    assert replies.problems("GenerateResponse", {"details": None}) != []  # no generated_text
