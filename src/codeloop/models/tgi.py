"""A TGI server as a LangChain chat model: the production backend (StarCoder-7B on a GPU).

Spec: `tgi:http://HOST:PORT`, optionally `tgi:http://HOST:PORT?family=starcoder`. On
first use of a URL (cached per process, like the embedded engine) codeloop checks
`GET /health` and reads `GET /info`: the served model id and its token window.

The prompt family decides the route. A completion model without a chat template
(`bigcode/starcoderbase-7b`; TGI's chat route rejects it) gets the `starcoder` prompts,
sent as one text through `huggingface_hub.InferenceClient.text_generation` (TGI's `/`
route, streamed); a chat model gets the `chat` prompts through langchain-huggingface's
`ChatHuggingFace(llm=HuggingFaceEndpoint(endpoint_url=...))` on `/v1/chat/completions`.
The family is, in order: the spec's `family=` parameter, `$CODELOOP_PROMPT_FAMILY`, else
guessed from the model id (StarCoder models that are not instruct/chat variants are
`starcoder`).

Ours, because no library does it: fitting the prompt into the server's token window
(tgi_window), cutting stop sequences split across streamed tokens (tgi_request), the
retry policy and one-line errors (tgi_client).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from huggingface_hub import TextGenerationStreamOutput, TextGenerationStreamOutputStreamDetails
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.chat_models import generate_from_stream
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_huggingface import ChatHuggingFace, HuggingFaceEndpoint
from pydantic import ConfigDict, PrivateAttr

from codeloop.models.tgi_client import TGIError, TGIServer
from codeloop.models.tgi_request import (
    Options,
    StopTrimmer,
    chat_parameters,
    completion_prompt,
    finish_reason,
    generation_parameters,
)
from codeloop.models.tgi_window import PromptTooLongError, Window, fit
from codeloop.prompts import prompt_set

log = logging.getLogger(__name__)

FAMILY_ENV = "CODELOOP_PROMPT_FAMILY"
# The routes the two families use: TGI's `/` (InferenceClient) and its OpenAI-style chat route.
COMPLETION, CHAT = "/", "/v1/chat/completions"


@dataclass(frozen=True)
class Server:
    """A TGI server that answered its health check, and what `/info` said about it."""

    server: TGIServer
    info: dict[str, Any]


def load_tgi(url: str, *, timeout: float = 300.0) -> TGIChatModel:
    """Return the chat model for the TGI server at `url`; `timeout` bounds each call."""
    base, family = split_spec(url)
    server = connect(base)
    family = family or os.environ.get(FAMILY_ENV) or family_for(server.info["model_id"])
    prompt_set(family)  # an unknown family fails here, with the list of known ones
    return TGIChatModel(
        server.server,
        model_name=server.info["model_id"],
        prompt_family=family,
        max_input_tokens=server.info["max_input_tokens"],
        max_total_tokens=server.info["max_total_tokens"],
        max_stop_sequences=server.info["max_stop_sequences"],
        timeout=timeout,
    )


def split_spec(url: str) -> tuple[str, str | None]:
    """Split a spec URL into the server's base URL and its `family=` parameter, if any."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    unknown = set(query) - {"family"}
    if unknown:
        raise ValueError(f"unknown TGI spec parameter(s) {sorted(unknown)} in {url!r}: use family=")
    base = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
    return base, query["family"][-1] if "family" in query else None


@functools.lru_cache(maxsize=8)
def connect(base_url: str) -> Server:
    """Check the server's health and read its info (once per process and URL)."""
    server = TGIServer(base_url)
    server.health()
    info = server.info()
    missing = [k for k in ("model_id", "max_input_tokens", "max_total_tokens") if k not in info]
    if missing:
        raise TGIError(server.endpoint("/info"), f"the reply lacks {', '.join(missing)}")
    info.setdefault("max_stop_sequences", 4)
    return Server(server, info)


def family_for(model_id: str) -> str:
    """`starcoder` for StarCoder base models (no chat template), else `chat`."""
    name = model_id.lower().rstrip("/").rsplit("/", 1)[-1]
    if "starcoder" in name and not any(word in name for word in ("instruct", "chat")):
        return "starcoder"
    return "chat"


class TGIChatModel(BaseChatModel):
    """LangChain chat model over a TGI server: streaming, stops, grammar, token usage.

    Per-call options arrive as keyword arguments (`temperature`, `max_tokens`, `seed`,
    `timeout`, `json_schema`); `json_schema` becomes TGI's JSON grammar, so the verdict
    always parses. The reply's `finish_reason` is `length` when it was cut off.

    Every reply is streamed from TGI, also when LangChain asks for it whole (`invoke`):
    the stream's last event carries the prompt's token count, which the non-streamed
    reply through InferenceClient lacks (TGI sends it as a header the client drops), and
    `timeout` (the run's `model_timeout`) then bounds each wait and the whole reply alike.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)
    model_name: str
    prompt_family: str = "chat"
    max_input_tokens: int
    max_total_tokens: int
    max_stop_sequences: int = 4
    temperature: float = 0.0
    max_tokens: int = 1024
    seed: int = 0
    timeout: float = 300.0
    _server: TGIServer = PrivateAttr()

    def __init__(self, server: TGIServer, **data: Any) -> None:
        super().__init__(**data)
        self._server = server

    @property
    def _llm_type(self) -> str:
        return "codeloop-tgi"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"url": self._server.base_url, "model_name": self.model_name,
                "prompt_family": self.prompt_family}

    @property
    def completion(self) -> bool:
        """True when prompts are sent as one text for TGI to continue (no chat template)."""
        return self.prompt_family != "chat"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return generate_from_stream(self._stream(messages, stop, run_manager, **kwargs))

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        messages, options, budget = self._prepare(messages, stop, kwargs)
        pieces = self._complete if self.completion else self._chat
        for chunk in pieces(messages, options, budget):
            if run_manager and chunk.text:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    def _prepare(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> tuple[list[BaseMessage], Options, float]:
        """Fit the prompt into the window and settle the call's options."""
        requested = int(kwargs.get("max_tokens", self.max_tokens))
        window = Window(self.max_input_tokens, self.max_total_tokens)
        try:
            kept, max_new = fit(
                messages, window=window, max_new=requested, render=self._render, count=self._count
            )
        except PromptTooLongError as exc:
            raise TGIError(self._server.endpoint(self._route), str(exc)) from None
        stops = list(dict.fromkeys(stop or []))
        if len(stops) > self.max_stop_sequences:
            log.warning("TGI takes %d stop sequences; dropping %s", self.max_stop_sequences,
                        stops[self.max_stop_sequences :])
        options = Options(
            temperature=float(kwargs.get("temperature", self.temperature)),
            max_new_tokens=max_new,
            seed=int(kwargs.get("seed", self.seed)),
            stop=stops[: self.max_stop_sequences],
            json_schema=kwargs.get("json_schema"),
        )
        return kept, options, float(kwargs.get("timeout", self.timeout))

    @property
    def _route(self) -> str:
        return COMPLETION if self.completion else CHAT

    def _render(self, messages: list[BaseMessage]) -> str:
        if self.completion:
            return completion_prompt(messages)[0]
        # Role markers stand in for what the server's chat template adds around each message.
        return "".join(f"<|{m.type}|>\n{m.text}\n" for m in messages)

    def _count(self, text: str) -> int:
        """Tokens in `text` by the server's tokenizer (the byte count if it has none)."""
        try:
            tokens = self._server.count_tokens(text)
        except TGIError as exc:
            if exc.status != 404:
                raise
            tokens = len(text.encode("utf-8"))
        return tokens

    def _complete(
        self, messages: list[BaseMessage], options: Options, budget: float
    ) -> Iterator[ChatGenerationChunk]:
        """A completion model's reply: InferenceClient.text_generation, streamed."""
        prompt, prefix = completion_prompt(messages)
        if prefix:
            yield _chunk(prefix)
        trimmer = StopTrimmer(options.stop)
        details: TextGenerationStreamOutputStreamDetails | None = None
        with self._server.inference(budget) as client:

            def start() -> Iterator[TextGenerationStreamOutput]:
                return iter(client.text_generation(
                    prompt, stream=True, details=True, **generation_parameters(options)
                ))

            for event in self._server.stream(COMPLETION, start, timeout=budget, budget=budget):
                if not event.token.special and (text := trimmer.feed(event.token.text)):
                    yield _chunk(text)
                details = event.details or details
        if rest := trimmer.finish():
            yield _chunk(rest)
        usage = _usage(details.input_length, details.generated_tokens) if details else None
        yield _chunk("", usage, self._metadata(details.finish_reason if details else None))

    def _chat(
        self, messages: list[BaseMessage], options: Options, budget: float
    ) -> Iterator[ChatGenerationChunk]:
        """A chat model's reply: langchain-huggingface's ChatHuggingFace, streamed."""
        endpoint = HuggingFaceEndpoint(  # type: ignore[call-arg]
            endpoint_url=self._server.base_url, timeout=math.ceil(budget)
        )
        chat = ChatHuggingFace(llm=endpoint)
        trimmer = StopTrimmer(options.stop)
        finish: str | None = None
        usage: UsageMetadata | None = None

        def start() -> Iterator[ChatGenerationChunk]:
            return chat._stream(messages, stop=options.stop or None, stream_usage=True,
                                **chat_parameters(options))

        with contextlib.closing(endpoint.client):
            for piece in self._server.stream(CHAT, start, timeout=budget, budget=budget):
                message = piece.message
                usage = getattr(message, "usage_metadata", None) or usage
                finish = (piece.generation_info or {}).get("finish_reason") or finish
                if text := trimmer.feed(piece.text):
                    yield _chunk(text)
        if rest := trimmer.finish():
            yield _chunk(rest)
        yield _chunk("", usage, self._metadata(finish))

    def _metadata(self, reason: str | None) -> dict[str, Any]:
        return {"finish_reason": finish_reason(reason), "model": self.model_name}


def _chunk(
    text: str, usage: UsageMetadata | None = None, metadata: dict[str, Any] | None = None
) -> ChatGenerationChunk:
    message = AIMessageChunk(content=text, usage_metadata=usage, response_metadata=metadata or {})
    return ChatGenerationChunk(message=message)


def _usage(prompt_tokens: int, completion_tokens: int) -> UsageMetadata:
    return UsageMetadata(
        input_tokens=prompt_tokens,
        output_tokens=completion_tokens,
        total_tokens=prompt_tokens + completion_tokens,
    )
