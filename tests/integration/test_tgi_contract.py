"""The TGI backend, through huggingface_hub, against a replay of real TGI responses.

Every request codeloop sends is checked against TGI's OpenAPI description by the replay
server (see tests/tgi_replay.py), on a real socket; the `replay` fixture fails a test that
broke it. Text generation goes through InferenceClient to TGI's `/` route, chat through
langchain-huggingface's ChatHuggingFace to `/v1/chat/completions`.
"""

from __future__ import annotations

import json
import socket
import time

import huggingface_hub
import pytest
from huggingface_hub import InferenceClient, constants, get_session
from huggingface_hub.errors import OfflineModeIsEnabled
from huggingface_hub.utils._http import default_client_factory
from langchain_core.messages import AIMessageChunk, HumanMessage
from langchain_huggingface import ChatHuggingFace, HuggingFaceEndpoint

from codeloop.models import hub_offline, load_model
from codeloop.models.tgi import connect, load_tgi
from codeloop.models.tgi_client import TGIError, TGITimeoutError
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
LLAMA = "meta-llama/Llama-3.1-8B-Instruct"


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


def test_stream_yields_each_recorded_token_through_inference_client(replay):
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
    [sent] = tgi.requests("/generate_stream")
    assert sent.sent_to == "/"  # InferenceClient uses TGI's compatibility route
    assert sent.body["stream"] is True and sent.body["parameters"]["details"] is True


def test_invoke_returns_the_recorded_reply_with_its_token_counts(replay):
    tgi = replay()
    recorded = snapshot(HELLO)
    tgi.script("/generate_stream", Reply(body=recorded))
    reply = load_tgi(tgi.url).invoke(ask(), max_tokens=10, stop=list(StarCoderPrompts.stop))
    assert reply.content == recorded["generated_text"]
    assert reply.response_metadata["finish_reason"] == "length"
    assert reply.usage_metadata["output_tokens"] == 10
    assert reply.usage_metadata["input_tokens"] == len(tokens_of("def print_hello"))
    params = tgi.requests("/generate_stream")[0].body["parameters"]
    assert params["max_new_tokens"] == 10 and params["do_sample"] is False
    assert params["stop"] == list(StarCoderPrompts.stop)


def test_stop_sequence_split_across_tokens_is_cut_from_reply_and_stream(replay):
    tgi = replay()
    recorded = snapshot(HELLO)  # ends "...World\")\n\ndef", the stop spread over three tokens
    tgi.script("/generate_stream", Reply(body=recorded), Reply(body=recorded))
    model = load_tgi(tgi.url)
    assert model.invoke(ask(), stop=["\n\ndef"]).content == '():\n    print("Hello World")'
    streamed = [c.content for c in model.stream(ask(), stop=["\n\ndef"])]
    assert "".join(streamed) == '():\n    print("Hello World")'
    assert not any("def" in piece for piece in streamed)  # never shown, then taken back


def test_sampling_sends_temperature_and_seed(replay):
    tgi = replay()
    sampled = snapshot("flash_starcoder__test_flash_starcoder_default_params")
    tgi.script("/generate_stream", Reply(body=sampled))
    reply = load_tgi(tgi.url).invoke(ask(), temperature=0.2, seed=0, max_tokens=60)
    params = tgi.requests("/generate_stream")[0].body["parameters"]
    assert (params["do_sample"], params["temperature"], params["seed"]) == (True, 0.2, 1)
    assert reply.usage_metadata["output_tokens"] == 60


def test_review_asks_for_the_verdict_under_tgi_json_grammar(replay):
    tgi = replay()
    grammar_reply = snapshot("flash_grammar_llama__test_flash_llama_grammar_json")
    tgi.script("/generate_stream", Reply(body=grammar_reply))
    reply = load_tgi(tgi.url).invoke(ask("{"), json_schema=verdict_schema(), max_tokens=100)
    grammar = tgi.requests("/generate_stream")[0].body["parameters"]["grammar"]
    assert grammar == {"type": "json", "value": verdict_schema()}
    assert json.loads(reply.content) == json.loads(grammar_reply["generated_text"])
    assert reply.response_metadata["finish_reason"] == "stop"  # TGI's eos_token


def test_overloaded_then_success_is_retried_after_a_backoff(replay):
    tgi = replay()
    tgi.script("/generate_stream", Reply(429, OVERLOADED), Reply(body=snapshot(HELLO)))
    started = time.monotonic()
    reply = load_tgi(tgi.url).invoke(ask())
    assert time.monotonic() - started >= 1.0  # the first backoff step
    assert reply.content == snapshot(HELLO)["generated_text"]
    assert len(tgi.requests("/generate_stream")) == 2


def test_overload_reported_inside_a_stream_is_retried(replay):
    """TGI answers a full queue with a 200 and an error event; InferenceClient raises OverloadedError."""
    tgi = replay()
    tgi.script("/generate_stream", Reply(events=[OVERLOADED]), Reply(body=snapshot(HELLO)))
    total = joined(list(load_tgi(tgi.url).stream(ask())))
    assert total.content == snapshot(HELLO)["generated_text"]
    assert len(tgi.requests("/generate_stream")) == 2


def test_an_error_event_mid_stream_ends_the_call_without_a_retry(replay):
    tgi = replay()
    events = [e for e in _events(snapshot(HELLO))[:3]]
    tgi.script("/generate_stream", Reply(events=[*events, error("CUDA out of memory", "generation")]))
    model = load_tgi(tgi.url)
    shown: list[str] = []
    with pytest.raises(TGIError) as caught:
        for chunk in model.stream(ask()):
            shown.append(chunk.content)
    assert str(caught.value) == f"TGI {tgi.url}/: CUDA out of memory (generation)"
    assert "".join(shown).startswith("():")  # tokens before the error were handed out
    assert len(tgi.requests("/generate_stream")) == 1  # and are never repeated


def test_unhealthy_server_fails_after_three_attempts_with_one_line(replay):
    tgi = replay()
    unhealthy = Reply(503, error("unhealthy", "healthcheck"))
    tgi.script("/health", unhealthy, unhealthy, unhealthy)
    with pytest.raises(TGIError) as caught:
        load_tgi(tgi.url)
    assert str(caught.value) == (
        f"TGI {tgi.url}/health: HTTP 503: unhealthy (healthcheck) (gave up after 3 attempts)"
    )
    assert len(tgi.requests("/health")) == 3 and not tgi.requests("/info")


def test_unavailable_generation_is_retried_then_reported(replay):
    tgi = replay()
    down = Reply(503, error("Model is loading", "unavailable"))
    tgi.script("/generate_stream", down, down, down)
    with pytest.raises(TGIError) as caught:
        load_tgi(tgi.url).invoke(ask())
    assert str(caught.value) == (
        f"TGI {tgi.url}/: HTTP 503: Model is loading (unavailable) (gave up after 3 attempts)"
    )
    assert caught.value.status == 503


def test_validation_error_is_not_retried_and_keeps_tgis_message(replay):
    tgi = replay()
    cause = "Input validation error: `inputs` must have less than 6144 tokens. Given: 7000"
    tgi.script("/generate_stream", Reply(422, error(cause, "validation")))
    with pytest.raises(TGIError) as caught:
        load_tgi(tgi.url).invoke(ask())
    assert str(caught.value) == f"TGI {tgi.url}/: HTTP 422: {cause} (validation)"
    assert len(tgi.requests("/generate_stream")) == 1


def test_validation_error_inside_a_stream_is_not_retried(replay):
    tgi = replay()
    tgi.script("/generate_stream", Reply(events=[error("Input validation error", "validation")]))
    with pytest.raises(TGIError, match=r"/: Input validation error \(validation\)$"):
        list(load_tgi(tgi.url).stream(ask()))
    assert len(tgi.requests("/generate_stream")) == 1


def test_nothing_listening_is_one_line_after_three_attempts():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(TGIError) as caught:
        load_tgi(url)
    assert str(caught.value) == (
        f"TGI {url}/health: cannot connect (Connection refused) (gave up after 3 attempts)"
    )


def test_a_short_model_timeout_fails_at_once_without_a_retry(replay):
    tgi = replay()
    tgi.script("/generate_stream", Reply(body=snapshot(HELLO), delay=1.5))
    model = load_tgi(tgi.url, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(TGITimeoutError, match=r"/: no answer within 0\.5 s"):
        model.invoke(ask())
    assert time.monotonic() - started < 1.4  # not retried: a slow server is not an overloaded one


def test_a_model_timeout_above_60_s_is_honoured(replay):
    """The old client capped every request at 60 s whatever `model_timeout` said."""
    tgi = replay()
    tgi.script("/generate_stream", Reply(body=snapshot(HELLO), delay=61))
    reply = load_tgi(tgi.url, timeout=90).invoke(ask())  # LangChain's non-streamed call
    assert reply.content == snapshot(HELLO)["generated_text"]
    assert len(tgi.requests("/generate_stream")) == 1


def test_old_feedback_is_dropped_to_fit_the_window_but_never_the_task(replay):
    tgi = replay(max_input_tokens=300, max_total_tokens=700)
    code = "def add(a, b):\n    return a + b\n"
    tgi.script("/generate_stream", Reply(body=generate_response(code)))
    prompts = StarCoderPrompts()
    previous = {
        "iteration": 1, "parse_error": None,
        "code": "def add(a, b):\n" + "    x = a - b\n" * 40 + "    return x\n",
        "tests": "def test_small():\n" + "    assert add(1, 2) == 3\n" * 40,
    }
    messages = prompts.generation("Write add(a, b) returning the sum.", "", previous, None)
    load_tgi(tgi.url).invoke(messages, max_tokens=256)
    sent = tgi.requests("/generate_stream")[0].body
    assert "# Write add(a, b) returning the sum." in sent["inputs"]
    assert "assert add(1, 2) == 3" not in sent["inputs"]  # the old tests went first
    assert len(tokens_of(sent["inputs"])) <= 300
    assert sent["parameters"]["max_new_tokens"] <= 700 - len(tokens_of(sent["inputs"]))
    assert tgi.requests("/tokenize")  # counted by the server's tokenizer


def test_a_task_too_long_for_the_window_fails_before_generating(replay):
    tgi = replay(max_input_tokens=50, max_total_tokens=400)
    prompts = StarCoderPrompts()
    task = "Write a function that " + "does one more thing and " * 40
    with pytest.raises(TGIError, match=r"/: the prompt needs .* shorten the task"):
        load_tgi(tgi.url).invoke(prompts.generation(task, "", None, None))
    assert not tgi.requests("/generate_stream")


def test_chat_model_goes_through_chat_hugging_face(replay):
    tgi = replay(model_id=LLAMA)
    events = snapshot("completion_prompts__test_flash_llama_completion_stream_usage")
    # TGI ends a chat stream with `data:[DONE]`, which huggingface_hub cannot parse alone.
    tgi.script("/v1/chat/completions", Reply(events=[*events, "[DONE]"]),
               Reply(events=[*events, "[DONE]"]))
    model = load_tgi(tgi.url)
    assert model.prompt_family == "chat"
    expected = "".join(e["choices"][0]["delta"]["content"] for e in events if e["choices"])
    total = joined(list(model.stream(ask("What is Deep Learning?"), max_tokens=10)))
    assert total.content == expected
    assert (total.usage_metadata["input_tokens"], total.usage_metadata["output_tokens"]) == (40, 10)
    assert total.response_metadata["finish_reason"] == "length"
    assert model.invoke(ask("What is Deep Learning?"), max_tokens=10).content == expected
    sent = tgi.requests("/v1/chat/completions")[0].body
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert (sent["temperature"], sent["max_tokens"], sent["seed"]) == (0.0, 10, 0)


def test_chat_verdict_uses_tgis_grammar_not_langchains_json_object(replay):
    tgi = replay(model_id=LLAMA)
    verdict = '{"issues": [], "suggestions": [], "score": 8, "approved": true}'
    tgi.script("/v1/chat/completions", Reply(events=_chat_events(verdict)))
    reply = load_tgi(tgi.url).invoke(ask("Review this."), json_schema=verdict_schema())
    assert json.loads(reply.content)["score"] == 8
    sent = tgi.requests("/v1/chat/completions")[0].body
    assert sent["response_format"] == {"type": "json", "value": verdict_schema()}


def test_why_the_chat_verdict_does_not_use_with_structured_output(replay):
    """langchain-huggingface's json_schema method sends a response format TGI refuses."""
    tgi = replay(model_id=LLAMA)
    chat = ChatHuggingFace(llm=HuggingFaceEndpoint(endpoint_url=tgi.url))
    structured = chat.with_structured_output(verdict_schema(), method="json_schema")
    with pytest.raises(huggingface_hub.errors.HfHubHTTPError, match="422"):
        structured.invoke(ask("Review this."))
    [sent] = tgi.seen[-1:]
    assert sent.body["response_format"]["type"] == "json_object"  # TGI knows json, regex, json_schema
    assert any("response_format" in p for p in sent.problems)
    tgi.seen.clear()  # the refused request was the point of this test


def test_family_from_spec_parameter_or_environment(replay, monkeypatch):
    starcoder = replay()
    assert load_tgi(f"{starcoder.url}?family=chat").prompt_family == "chat"
    llama = replay(model_id=LLAMA)
    monkeypatch.setenv("CODELOOP_PROMPT_FAMILY", "starcoder")
    assert load_tgi(llama.url).prompt_family == "starcoder"
    with pytest.raises(ValueError, match="unknown prompt family 'gpt'"):
        load_tgi(f"{llama.url}?family=gpt")


@pytest.fixture
def offline(monkeypatch):
    """huggingface_hub as under HF_HUB_OFFLINE=1 (the flag is read when it is imported)."""
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hub_offline, "_ALLOWED", set())
    monkeypatch.setattr(hub_offline, "_installed", False)
    huggingface_hub.set_client_factory(default_client_factory)
    yield
    huggingface_hub.set_client_factory(default_client_factory)


def test_offline_mode_refuses_a_local_server_unless_codeloop_names_it(replay, offline):
    tgi = replay()
    tgi.script("/generate_stream", Reply(body=snapshot(HELLO)))
    with pytest.raises(OfflineModeIsEnabled):  # the pitfall: even 127.0.0.1 is refused
        InferenceClient(model=tgi.url).text_generation("def print_hello", max_new_tokens=10)
    reply = load_tgi(tgi.url).invoke(ask())  # the TGI backend allows its own server
    assert reply.content == snapshot(HELLO)["generated_text"]
    with pytest.raises(OfflineModeIsEnabled):  # and the Hub stays out of reach
        get_session().get("https://huggingface.co/api/models/gpt2", timeout=5)


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
    assert requests.problems("CompatGenerateRequest", {"inputs": "x", "stream": True}) == []
    for name in ("flash_starcoder__test_flash_starcoder_default_params",
                 "flash_grammar_llama__test_flash_llama_grammar_json"):
        assert replies.problems("GenerateResponse", snapshot(name)) == []
    assert replies.problems("GenerateResponse", {"details": None}) != []  # no generated_text


def _events(response: dict) -> list[dict]:
    from tests.tgi_replay import stream_events

    return stream_events(response, input_length=3)


def _chat_events(text: str) -> list:
    """A chat stream in TGI's shape: one chunk of content, a finish, usage, then [DONE]."""
    base = {"id": "", "created": 1, "model": LLAMA, "system_fingerprint": "3.3.5-native",
            "object": "chat.completion.chunk"}
    delta = {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": text},
                                  "logprobs": None, "finish_reason": None}], "usage": None}
    end = {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                "logprobs": None, "finish_reason": "stop"}], "usage": None}
    usage = {**base, "choices": [], "usage": {"prompt_tokens": 20, "completion_tokens": 30,
                                              "total_tokens": 50}}
    return [delta, end, usage, "[DONE]"]
