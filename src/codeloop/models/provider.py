"""Any LangChain chat model, named by a spec: `PROVIDER:MODEL?key=value&...`.

LangChain's own `init_chat_model(MODEL, model_provider=PROVIDER, **params)` builds it:
`openai:Qwen/Qwen2.5-Coder-7B-Instruct?base_url=http://gpu:8000/v1` for vLLM, SGLang or
llama.cpp's server (anything that speaks the OpenAI API), `ollama:qwen2.5-coder`,
`anthropic:claude-sonnet-4-5`. Query parameters are the provider model's own init
parameters; numbers and true/false are converted. Keys stay in the provider's environment
variables (`OPENAI_API_KEY`...): a spec is written into every run's report, so a
parameter that looks like a secret is refused. Provider packages are optional extras
(`pip install 'codeloop[openai]'`); a missing one is a one-line error naming the extra.

codeloop's nodes call a model with per-call keywords (`temperature`, `max_tokens`,
`seed`, `timeout`, and `json_schema` for the verdict). `ProviderChatModel` maps them onto
LangChain's standard interfaces: the sampling settings onto the provider model's own
fields (a copy per call), the timeout at construction, and `json_schema` onto
`with_structured_output(schema, method="json_schema", include_raw=True)`. A provider that
refuses structured output gets the plain request from then on, and the reviewer's repair
path checks the reply.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from langchain_core.callbacks import CallbackManager, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel, ConfigDict, PrivateAttr

log = logging.getLogger(__name__)

# Provider -> the codeloop extra that installs its LangChain package.
EXTRAS = {"openai": "openai", "ollama": "ollama"}
# codeloop's per-call option -> the provider model fields (or aliases) that may hold it.
OPTION_FIELDS = {
    "temperature": ("temperature",),
    "max_tokens": ("max_tokens", "num_predict", "max_output_tokens", "max_new_tokens"),
    "seed": ("seed", "random_seed"),
}
SECRET_WORDS = ("key", "token", "secret", "password")
# LangGraph streams tokens from every chat model run unless it carries this tag; the
# provider's run inside ours would show each token twice.
NOSTREAM = "nostream"


class ProviderSpecError(ValueError):
    """The spec names a provider codeloop cannot build a model for (with the fix)."""


def load_provider(spec: str, *, timeout: float) -> ProviderChatModel:
    """The chat model for a `PROVIDER:MODEL?params` spec, built once per spec and timeout."""
    return _load(spec.strip(), float(timeout))


@functools.lru_cache(maxsize=16)
def _load(spec: str, timeout: float) -> ProviderChatModel:
    provider, model, params = parse_spec(spec)
    return ProviderChatModel(inner=build(provider, model, params, timeout), spec=spec)


def parse_spec(spec: str) -> tuple[str, str, dict[str, Any]]:
    """Split `PROVIDER:MODEL?key=value` into its provider, model and init parameters."""
    provider, _, rest = spec.partition(":")
    model, _, query = rest.partition("?")
    if not provider or not model:
        raise ProviderSpecError(f"a model spec is PROVIDER:MODEL, e.g. openai:gpt-4o, not {spec!r}")
    params: dict[str, Any] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if any(word in key.lower() for word in SECRET_WORDS):
            raise ProviderSpecError(
                f"put {key} in the provider's environment variable, not in the model spec "
                "(specs are written into run reports)"
            )
        params[key] = _value(value)
    return provider, model, params


def build(provider: str, model: str, params: dict[str, Any], timeout: float) -> BaseChatModel:
    """`init_chat_model` for the spec, with the run's timeout where the provider takes one."""
    from langchain.chat_models import init_chat_model

    if provider == "openai" and "base_url" in params and not os.environ.get("OPENAI_API_KEY"):
        # A local OpenAI-compatible server takes any key; the OpenAI client wants one.
        params = {"api_key": "EMPTY", **params}
    if provider == "openai":
        params = {"stream_usage": True, **params}  # token counts in streamed replies too
    try:
        chat: BaseChatModel = init_chat_model(model, model_provider=provider, **params)
        if "timeout" not in params and _field(chat, "timeout"):
            chat = init_chat_model(model, model_provider=provider, timeout=timeout, **params)
    except ImportError as exc:
        extra = EXTRAS.get(provider)
        fix = f"pip install 'codeloop[{extra}]'" if extra else " ".join(str(exc).split())
        raise ProviderSpecError(f"the {provider} model spec needs its LangChain package: {fix}") \
            from None
    except ValueError as exc:
        raise ProviderSpecError(f"model spec {provider}:{model}: {' '.join(str(exc).split())}") \
            from None
    return chat


class ProviderChatModel(BaseChatModel):
    """A provider's LangChain chat model, taking codeloop's per-call options (see above)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    inner: BaseChatModel
    spec: str
    _structured: bool = PrivateAttr(default=True)

    @property
    def _llm_type(self) -> str:
        return "codeloop-provider"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"spec": self.spec}

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        model, config = self._configured(kwargs), _inner_config(run_manager)
        schema = kwargs.get("json_schema")
        if schema is not None:
            reply = self._verdict(model, messages, stop, schema, config)
        else:
            reply = _as_ai(model.invoke(messages, stop=stop, config=config))
        return ChatResult(generations=[ChatGeneration(message=reply)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        if kwargs.get("json_schema") is not None:  # a verdict is parsed whole
            reply = self._generate(messages, stop, run_manager, **kwargs).generations[0].message
            yield ChatGenerationChunk(message=AIMessageChunk(
                content=reply.content, usage_metadata=getattr(reply, "usage_metadata", None),
                response_metadata=reply.response_metadata))
            return
        model, config = self._configured(kwargs), _inner_config(run_manager)
        for part in model.stream(messages, stop=stop, config=config):
            chunk = ChatGenerationChunk(message=part)
            if run_manager and part.text:
                run_manager.on_llm_new_token(part.text, chunk=chunk)
            yield chunk

    def _configured(self, kwargs: dict[str, Any]) -> BaseChatModel:
        """The provider model with this call's sampling settings, as a copy.

        ChatOpenAI sends the token limit as `max_completion_tokens`, the OpenAI API's
        current name, which llama-cpp-python's server ignores (it would write until the
        window is full); to a server of your own (`base_url`) the old `max_tokens` goes too.
        """
        update: dict[str, Any] = {}
        for option, names in OPTION_FIELDS.items():
            if kwargs.get(option) is None:
                continue
            field = next((f for name in names if (f := _field(self.inner, name))), None)
            if field:
                update[field] = kwargs[option]
        if kwargs.get("max_tokens") and getattr(self.inner, "openai_api_base", None):
            extra = dict(getattr(self.inner, "extra_body", None) or {})
            update["extra_body"] = {**extra, "max_tokens": kwargs["max_tokens"]}
        return self.inner.model_copy(update=update) if update else self.inner

    def _verdict(self, model: BaseChatModel, messages: list[BaseMessage], stop: list[str] | None,
                 schema: dict[str, Any], config: RunnableConfig) -> AIMessage:
        """The reply under LangChain's structured output, else (refused) a plain reply.

        A refusal is an error the provider answered (an HTTP status: llama.cpp's server
        answers 500 to a `json_schema` response format it does not know) or
        NotImplementedError, followed by a plain request that works: from then on this
        model is asked in plain text. A server that fails both ways raises the plain error.
        """
        if self._structured:
            try:
                structured = model.with_structured_output(
                    schema, method="json_schema", include_raw=True
                )
                return _raw_reply(structured.invoke(messages, config=config))
            except Exception as exc:
                if not _answered(exc):
                    raise
                reply = _as_ai(model.invoke(messages, stop=stop, config=config))
                self._structured = False
                log.warning("%s refused structured output (%s); verdicts are asked as plain "
                            "text and checked", self.spec, " ".join(str(exc).split())[:200])
                return reply
        return _as_ai(model.invoke(messages, stop=stop, config=config))


def _field(model: BaseModel, name: str) -> str | None:
    """The model's field a standard parameter `name` sets: the field itself or its alias."""
    for field, info in type(model).model_fields.items():
        if name in (field, info.alias):
            return field
    return None


def _inner_config(run_manager: CallbackManagerForLLMRun | None) -> RunnableConfig:
    """Trace the provider's run under ours, but let only ours stream tokens.

    What a chain's `get_child(tag)` does; a chat model's run manager has no such method.
    """
    callbacks = CallbackManager([], parent_run_id=run_manager.run_id if run_manager else None)
    if run_manager:
        callbacks.set_handlers(run_manager.inheritable_handlers)
        callbacks.add_tags(run_manager.inheritable_tags)
        callbacks.add_metadata(run_manager.inheritable_metadata)
    callbacks.add_tags([NOSTREAM], inherit=False)
    return {"callbacks": callbacks}


def _answered(exc: Exception) -> bool:
    """Whether the provider itself said no (an HTTP status; not a timeout or a lost link)."""
    return isinstance(exc, NotImplementedError) or getattr(exc, "status_code", None) is not None


def _raw_reply(out: Any) -> AIMessage:
    """The provider's own reply from `include_raw=True` output, as JSON text."""
    raw, parsed = _as_ai(out["raw"]), out.get("parsed")
    if raw.text.strip() or parsed is None:
        return raw
    data = parsed.model_dump() if isinstance(parsed, BaseModel) else parsed
    return AIMessage(content=json.dumps(data), usage_metadata=raw.usage_metadata,
                     response_metadata=raw.response_metadata)


def _as_ai(message: BaseMessage) -> AIMessage:
    if not isinstance(message, AIMessage):
        raise TypeError(f"the model returned {type(message).__name__}, not an AIMessage")
    return message


def _value(text: str) -> Any:
    """A query value as JSON when it is a number or true/false, else the text itself."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, int | float | bool) else text
