"""The embedded default: a GGUF code model run in-process by llama.cpp, as a LangChain chat model.

One `Llama` engine is loaded per model file and process and shared by every run (a
batch with concurrency N does not load it N times). Every call into it runs on one
thread of its own, which also serialises them (llama.cpp contexts are not thread-safe).
"""

from __future__ import annotations

import functools
import os
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, PrivateAttr

from codeloop.models.llama_candidates import Candidate, CandidateDecoder
from codeloop.models.llama_prefix import SystemPrefixes

ROLE = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}
CANDIDATE_WIDTH = 4  # sequences the candidates' context is made for (more: made again)
STREAM_EVERY = 0.25
"""Seconds between the pieces of a reply handed to the caller, rather than one per token:
a person watching sees no difference, and the threads that watch (the caller's,
LangGraph's, a live view's) wake several times less often."""


class LlamaEngine:
    """A loaded llama.cpp model and the one thread that runs every call into it.

    Why one thread: llama.cpp computes with OpenMP, which keeps a team of threads for each
    thread that calls it, and the teams of idle callers slow the busy one down. LangGraph
    runs each node on a thread of its pool, so calls came from ever new threads; on 2
    cores, HumanEval/1's 302-token solution took 11.3 s that way against 8.6 s from one
    thread (`bench/bench_threads.py`).
    """

    def __init__(self, model_path: str, n_ctx: int, n_threads: int) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise RuntimeError(
                "the embedded model needs llama-cpp-python: pip install 'codeloop[local]'"
            ) from exc
        self.path = model_path
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="codeloop-llama")
        self.llama = self.thread.submit(
            Llama, model_path=model_path, n_ctx=n_ctx, n_threads=n_threads, verbose=False
        ).result()
        self.prefixes = SystemPrefixes(self.llama)
        self.decoder: CandidateDecoder | None = None  # made at the first call for candidates

    def start(self, messages: list[dict[str, Any]]) -> None:
        """Ready the context for a new prompt (llama_prefix): on the engine's thread only."""
        self.prefixes.start(messages)

    def open(self, request: dict[str, Any]) -> Generator[tuple[str, str | None], None, None]:
        """The reply as written, token by token, each with the finish reason if it ends there.

        On the engine's thread only. A request whose last message is the assistant's is a
        reply begun for the model (`continues_replies`): the conversation before it is laid
        out by the model's own chat template, the begun reply follows as it is, and only
        what the model adds is returned.
        """
        messages = request["messages"]
        chat = begun_part(messages) is None
        stream: Any  # llama-cpp-python's chat or text completion chunks
        if chat:
            stream = self.llama.create_chat_completion(**request)
        elif "response_format" in request:
            raise ValueError("a begun reply cannot also be held to a JSON schema")
        else:
            options = {k: v for k, v in request.items() if k != "messages"}
            stream = self.llama.create_completion(prompt=self.prompt(messages), **options)
        try:
            for part in stream:
                choice: dict[str, Any] = part["choices"][0]
                piece = choice["delta"].get("content") if chat else choice["text"]
                yield piece or "", choice.get("finish_reason")
        finally:
            stream.close()

    def prompt(self, messages: list[dict[str, Any]]) -> list[int]:
        """The tokens of a conversation laid out by the model's chat template.

        Ending with the assistant's message, that message is a begun reply: it follows as
        it is. Otherwise the template's start of the assistant's reply follows.
        """
        begun = begun_part(messages)
        layout = self.template(messages=messages if begun is None else messages[:-1])
        text = layout.prompt + (begun or "")
        return list(self.llama.tokenize(text.encode("utf-8"),
                                        add_bos=not layout.added_special, special=True))

    def candidates(
        self, request: dict[str, Any], count: int, enough: Callable[[str], Any] | None,
        deadline: float,
    ) -> tuple[int, list[Candidate]]:
        """How many tokens the prompt has, and `count` replies decoded together.

        On the engine's thread only (models.llama_candidates). Reply n's seed is the
        request's plus n.
        """
        if "response_format" in request:
            raise ValueError("candidates cannot be held to a JSON schema")
        if self.decoder is None or self.decoder.width < count:
            if self.decoder is not None:
                self.decoder.close()
            self.decoder = CandidateDecoder(self.llama, max(count, CANDIDATE_WIDTH),
                                            self.llama.n_ctx())
        prompt = self.prompt(request["messages"])
        return len(prompt), self.decoder.write(
            prompt, count, temperature=request["temperature"], seed=request["seed"],
            max_tokens=request["max_tokens"], stop=request["stop"], enough=enough,
            deadline=deadline)

    @functools.cached_property
    def template(self) -> Any:
        """The model's chat template, as llama-cpp-python applies it in create_chat_completion."""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        llama = self.llama
        eos, bos = llama.token_eos(), llama.token_bos()
        return Jinja2ChatFormatter(
            template=llama.metadata["tokenizer.chat_template"],
            eos_token=llama._model.token_get_text(eos) if eos != -1 else "",
            bos_token=llama._model.token_get_text(bos) if bos != -1 else "",
            stop_token_ids=[eos],
        )


class LlamaChatModel(BaseChatModel):
    """LangChain chat model over a `LlamaEngine`: streaming, stop sequences, seed, usage.

    Per-call options arrive as keyword arguments (`temperature`, `max_tokens`, `seed`,
    `json_schema`, `enough`, `candidates`); `json_schema` constrains the reply to that
    JSON schema with llama.cpp's grammar, so a structured verdict always parses; `enough`
    (nodes.enough) says when the reply so far holds all the caller uses, and generation
    stops there; `candidates` N (through `generate`, with `stream=False`) gives N replies,
    decoded together.
    """

    stops_early: ClassVar[bool] = True
    continues_replies: ClassVar[bool] = True
    writes_candidates: ClassVar[bool] = True
    model_config = ConfigDict(arbitrary_types_allowed=True)
    model_name: str = "qwen2.5-coder-0.5b-instruct-q4_k_m"
    temperature: float = 0.0
    max_tokens: int = 1024
    seed: int = 0
    timeout: float = 300.0
    _engine: LlamaEngine = PrivateAttr()

    def __init__(self, engine: LlamaEngine, **data: Any) -> None:
        super().__init__(**data)
        self._engine = engine

    @property
    def _llm_type(self) -> str:
        return "codeloop-llama-cpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "path": self._engine.path}

    def _request(
        self, messages: list[BaseMessage], stop: list[str] | None, **kwargs: Any
    ) -> dict[str, Any]:
        request: dict[str, Any] = {
            "messages": [{"role": ROLE.get(m.type, "user"), "content": m.text} for m in messages],
            "temperature": kwargs.get("temperature", self.temperature),
            "max_tokens": kwargs.get("max_tokens", self.max_tokens),
            "seed": kwargs.get("seed", self.seed),
            "stop": stop or [],
            "stream": True,
        }
        if kwargs.get("json_schema") is not None:
            request["response_format"] = {"type": "json_object", "schema": kwargs["json_schema"]}
        return request

    def _pieces(
        self, request: dict[str, Any], timeout: float, enough: Callable[[str], Any] | None = None
    ) -> Iterator[_Piece]:
        """The reply as written, in pieces of `STREAM_EVERY` seconds, from the engine's thread.

        Waiting for the engine (other runs in this process) does not count towards
        `timeout`. Closing this iterator stops the generation at its next token.
        """
        pieces: queue.SimpleQueue[_Piece | BaseException] = queue.SimpleQueue()
        closed = threading.Event()
        self._engine.thread.submit(self._write, request, timeout, enough, pieces, closed)
        try:
            while True:
                piece = pieces.get()
                if isinstance(piece, BaseException):
                    raise piece
                yield piece
                if piece.prompt is not None:
                    return
        finally:
            closed.set()

    def _write(
        self, request: dict[str, Any], timeout: float, enough: Callable[[str], Any] | None,
        pieces: queue.SimpleQueue[_Piece | BaseException], closed: threading.Event,
    ) -> None:
        """On the engine's thread: generate, handing over what was written every so often.

        It stops as soon as `enough(text so far)` returns a reply to keep: the caller
        cuts the text (nodes.common), the tokens not written are time saved.

        llama.cpp has no timeout of its own (and exceptions raised in its callbacks are
        swallowed), so the deadline is checked between tokens, which closes the
        generation within one token of it.

        The engine's context is cleared first: llama.cpp otherwise reuses the cached prefix
        shared with the previous prompt, and evaluating the rest in a differently sized
        batch changes the floating-point results, so the same prompt at temperature 0
        could give a different reply depending on what ran before it. Only the system
        message's part is kept, read the same way every time (models.llama_prefix).

        A reply begun in the prompt (its last message, the assistant's) is handed over
        whole, begun part first, as TGI's completion model does (models.tgi).
        """
        try:
            self._engine.start(request["messages"])
            deadline = time.monotonic() + timeout
            written = begun_part(request["messages"]) or ""
            produced, finish = 0, None
            sent, sent_tokens, handed = 0, 0, time.monotonic()
            stream = self._engine.open(request)
            try:
                for text, ended in stream:
                    if closed.is_set():
                        return
                    if time.monotonic() > deadline:
                        raise ModelTimeoutError(
                            f"the embedded model took longer than {timeout:g} s")
                    finish = ended or finish
                    if not text:
                        continue
                    written, produced = written + text, produced + 1
                    if enough is not None and enough(written) is not None:
                        finish = "stop"
                        break
                    if time.monotonic() - handed >= STREAM_EVERY:
                        pieces.put(_Piece(written[sent:], produced - sent_tokens))
                        sent, sent_tokens, handed = len(written), produced, time.monotonic()
            finally:
                stream.close()
            # In stream mode llama.cpp reports no usage; the context holds prompt + reply.
            prompt = max(0, self._engine.llama.n_tokens - produced)
            pieces.put(_Piece(written[sent:], produced - sent_tokens, prompt, finish))
        except BaseException as error:  # handed to the caller's thread, raised there
            pieces.put(error)

    def _candidates(
        self, messages: list[BaseMessage], count: int, stop: list[str] | None, **kwargs: Any,
    ) -> list[ChatGeneration]:
        """`count` replies to the messages, decoded together (models.llama_candidates).

        Reply n is sampled with seed `seed + n`. The prompt is read once, so its tokens
        count in the first reply's usage only. A begun reply (`continues_replies`) is
        handed back whole, begun part first, as a single reply is.
        """
        request = self._request(messages, stop, **kwargs)
        timeout = kwargs.get("timeout", self.timeout)
        engine = self._engine
        written = engine.thread.submit(
            engine.candidates, request, count, kwargs.get("enough"), time.monotonic() + timeout)
        try:
            prompt, replies = written.result()
        except TimeoutError as error:
            raise ModelTimeoutError(f"the embedded model took longer than {timeout:g} s") from error
        begun = begun_part(request["messages"]) or ""
        return [ChatGeneration(message=AIMessage(
            content=begun + reply.text,
            usage_metadata=_usage(prompt if n == 0 else 0, reply.tokens),
            response_metadata={"finish_reason": reply.finish, "model": self.model_name},
        )) for n, reply in enumerate(replies)]

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if "candidates" in kwargs:
            return ChatResult(generations=self._candidates(
                messages, kwargs["candidates"], stop, **kwargs))
        request = self._request(messages, stop, **kwargs)
        pieces = list(self._pieces(request, kwargs.get("timeout", self.timeout),
                                   kwargs.get("enough")))
        message = AIMessage(
            content="".join(p.text for p in pieces),
            usage_metadata=_usage(pieces[-1].prompt or 0, sum(p.tokens for p in pieces)),
            response_metadata={"finish_reason": pieces[-1].finish, "model": self.model_name},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        """The reply in chunks of several tokens, each with its tokens in `usage_metadata`.

        The last one also has the prompt's, so the chunks' usage adds up as LangChain sums it.
        """
        request = self._request(messages, stop, **kwargs)
        for piece in self._pieces(request, kwargs.get("timeout", self.timeout),
                                  kwargs.get("enough")):
            last = piece.prompt is not None
            metadata = {"finish_reason": piece.finish, "model": self.model_name} if last else {}
            chunk = ChatGenerationChunk(message=AIMessageChunk(
                content=piece.text,
                usage_metadata=_usage(piece.prompt or 0, piece.tokens),
                response_metadata=metadata,
            ))
            if run_manager and piece.text:
                run_manager.on_llm_new_token(piece.text, chunk=chunk)
            yield chunk


class ModelTimeoutError(TimeoutError):
    """A model call ran past its time budget."""


@dataclass(frozen=True)
class _Piece:
    """Some of the reply: its text and tokens (the last piece: the prompt's, and why it ended)."""

    text: str
    tokens: int
    prompt: int | None = None
    finish: str | None = None


def begun_part(messages: list[dict[str, Any]]) -> str | None:
    """The reply begun for the model (`continues_replies`): the last message, if the assistant's."""
    last = messages[-1]
    return str(last["content"]) if last["role"] == "assistant" else None


def _usage(prompt_tokens: int, completion_tokens: int) -> UsageMetadata:
    return UsageMetadata(
        input_tokens=prompt_tokens,
        output_tokens=completion_tokens,
        total_tokens=prompt_tokens + completion_tokens,
    )


def default_threads() -> int:
    """llama.cpp threads: `CODELOOP_THREADS`, else every core this process may use."""
    configured = os.environ.get("CODELOOP_THREADS")
    return int(configured) if configured else max(1, len(os.sched_getaffinity(0)))
