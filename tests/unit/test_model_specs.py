"""Model specs beyond our own backends: any LangChain provider, and a reviewer of its own.

No network: provider models are built (building one connects nowhere) or replaced by
LangChain's own fake chat model behind codeloop's adapter.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableLambda
from langgraph.graph import END, START, StateGraph
from pydantic import Field
from typing_extensions import TypedDict

from codeloop.context import Context
from codeloop.models import ModelSpecError, chat_model, load_model, register_model, spec_for
from codeloop.models.provider import ProviderChatModel, ProviderSpecError, parse_spec
from codeloop.models.scripted import ScriptedChatModel
from codeloop.nodes.review import verdict_schema

LOCAL_SERVER = "openai:qwen2.5-coder?base_url=http://127.0.0.1:9/v1"


def test_a_spec_is_provider_model_and_init_parameters():
    assert parse_spec("ollama:qwen2.5-coder:7b") == ("ollama", "qwen2.5-coder:7b", {})
    provider, model, params = parse_spec(
        "openai:Qwen/Qwen2.5-Coder-7B?base_url=http://gpu:8000/v1&temperature=0.2&max_retries=4"
        "&streaming=true"
    )
    assert (provider, model) == ("openai", "Qwen/Qwen2.5-Coder-7B")
    assert params == {"base_url": "http://gpu:8000/v1", "temperature": 0.2, "max_retries": 4,
                      "streaming": True}


@pytest.mark.parametrize("key", ["api_key", "OPENAI_API_KEY", "token", "client_secret"])
def test_a_secret_in_a_spec_is_refused_since_specs_land_in_reports(key):
    with pytest.raises(ProviderSpecError, match=f"put {key} in the provider's environment"):
        parse_spec(f"openai:gpt-4o?{key}=sk-123")


def test_an_openai_spec_builds_langchains_chat_openai_with_the_run_timeout(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    model = load_model(LOCAL_SERVER, timeout=240)
    assert isinstance(model, ProviderChatModel)
    inner = model.inner
    assert type(inner).__name__ == "ChatOpenAI"
    assert (inner.model_name, inner.openai_api_base) == ("qwen2.5-coder", "http://127.0.0.1:9/v1")
    assert inner.request_timeout == 240
    assert inner.stream_usage is True
    assert inner.openai_api_key.get_secret_value() == "EMPTY"  # a local server takes any key
    assert load_model(LOCAL_SERVER, timeout=240) is model  # built once per spec and timeout


def test_a_missing_provider_package_is_one_line_naming_the_extra():
    with pytest.raises(ModelSpecError) as caught:
        load_model("ollama:qwen2.5-coder")
    assert str(caught.value) == (
        "the ollama model spec needs its LangChain package: pip install 'codeloop[ollama]'"
    )


@pytest.mark.parametrize("spec", ["lcoal", "nonesuch:model", "registered:nobody"])
def test_an_unknown_spec_lists_the_forms(spec):
    with pytest.raises(ModelSpecError, match=r"local|PROVIDER:MODEL|register_model"):
        load_model(spec)


def test_the_reviewer_is_the_generators_model_unless_it_has_its_own(monkeypatch):
    monkeypatch.delenv("CODELOOP_REVIEWER_MODEL", raising=False)
    generator = register_model(ScriptedChatModel(script=[]))
    reviewer = register_model(ScriptedChatModel(script=[]))
    same = Context(model=generator)
    assert same.reviewer_model is None
    assert chat_model(same, "reviewer") is chat_model(same)
    own = Context(model=generator, reviewer_model=reviewer)
    assert spec_for(own, "reviewer") == reviewer and spec_for(own) == generator
    assert chat_model(own, "reviewer") is not chat_model(own)
    monkeypatch.setenv("CODELOOP_REVIEWER_MODEL", reviewer)
    assert Context(model=generator).reviewer_model == reviewer


class Recorder(GenericFakeChatModel):
    """LangChain's fake chat model, with the fields providers use for sampling settings."""

    temperature: float = 1.0
    max_tokens: int | None = None
    seed: int | None = None
    seen: list[dict[str, Any]] = Field(default_factory=list)

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        self.seen.append({"temperature": self.temperature, "max_tokens": self.max_tokens,
                          "seed": self.seed, "stop": stop})
        return super()._generate(messages, stop, run_manager, **kwargs)


def adapter(inner: BaseChatModel) -> ProviderChatModel:
    return ProviderChatModel(inner=inner, spec="fake:recorder")


def test_per_call_settings_land_on_the_provider_models_own_fields():
    inner = Recorder(messages=iter(["def f(): pass"]), seen=[])
    reply = adapter(inner).invoke([HumanMessage("write f")], temperature=0.7, max_tokens=99,
                                  seed=3, timeout=300, stop=["```"])
    assert reply.content == "def f(): pass"
    assert inner.seen == [{"temperature": 0.7, "max_tokens": 99, "seed": 3, "stop": ["```"]}]
    assert inner.temperature == 1.0  # a copy per call: the shared model is untouched


def test_the_verdict_uses_langchains_structured_output_when_the_provider_has_it():
    verdict = {"issues": [], "suggestions": [], "score": 9, "approved": True}
    calls: list[tuple[Any, str]] = []

    class Structured(Recorder):
        def with_structured_output(self, schema, *, method="function_calling", include_raw=False,
                                   **kwargs):
            calls.append((schema, method))
            assert include_raw
            return RunnableLambda(lambda _: {"raw": AIMessage(json.dumps(verdict)),
                                             "parsed": verdict, "parsing_error": None})

    reply = adapter(Structured(messages=iter([]), seen=[])).invoke(
        [HumanMessage("review")], json_schema=verdict_schema())
    assert calls == [(verdict_schema(), "json_schema")]
    assert json.loads(reply.content) == verdict


def test_a_provider_without_structured_output_gets_the_plain_request():
    inner = Recorder(messages=iter(['{"score": 7}', '{"score": 8}']), seen=[])
    model = adapter(inner)  # GenericFakeChatModel raises NotImplementedError for it
    first = model.invoke([HumanMessage("review")], json_schema=verdict_schema())
    second = model.invoke([HumanMessage("review")], json_schema=verdict_schema())
    assert (first.content, second.content) == ('{"score": 7}', '{"score": 8}')
    assert len(inner.seen) == 2  # the review's repair path checks what comes back


def test_langgraph_streams_each_token_once():
    """The provider's own run is traced under ours, tagged so LangGraph does not stream it twice."""

    class State(TypedDict):
        out: str

    model = adapter(GenericFakeChatModel(messages=iter(["one two three"])))

    def node(state: State) -> dict[str, str]:
        return {"out": model.invoke([HumanMessage("count")]).text}

    graph = StateGraph(State).add_node("node", node).add_edge(START, "node").add_edge("node", END)
    tokens = [chunk.content for chunk, _ in graph.compile().stream({"out": ""},
                                                                   stream_mode="messages")]
    assert "".join(tokens) == "one two three"


def test_a_server_of_your_own_gets_the_token_limit_under_both_names(monkeypatch):
    """llama-cpp-python's server ignores `max_completion_tokens`, ChatOpenAI's name for it."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    model = load_model(LOCAL_SERVER, timeout=60)
    payload = model._configured({"max_tokens": 40, "temperature": 0.0, "seed": 2}) \
        ._get_request_payload([HumanMessage("hi")])
    assert payload["max_completion_tokens"] == 40 and payload["extra_body"] == {"max_tokens": 40}
    assert (payload["temperature"], payload["seed"]) == (0.0, 2)
    assert "extra_body" not in model.inner._get_request_payload([HumanMessage("hi")])
