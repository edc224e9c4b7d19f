"""Model backends behind one call: `load_model(spec)` returns a LangChain chat model.

Specs: `local` (the embedded GGUF model, see model_file), `local:/path/model.gguf`,
`tgi:http://HOST:PORT` (see tgi), and `PROVIDER:MODEL?params` for any chat model
LangChain's `init_chat_model` builds, e.g. `openai:MODEL?base_url=http://HOST:PORT/v1`
for vLLM, SGLang or llama.cpp's server, or `ollama:qwen2.5-coder` (see provider);
`scripted:/path/script.json` is a fake model for tests and demos (see script_file);
`registered:NAME` is a chat model object handed to `register_model` in this process (a
notebook's own model, a test's scripted one). Loaded models are cached per process and
spec, so a batch or a server loads the embedded model once.

A run names two models (`chat_model(context, role)`): the generator's, `Context.model`,
and the reviewer's, `Context.reviewer_model`, which defaults to the generator's.
"""

from __future__ import annotations

import functools
import itertools
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from langchain_core.language_models import BaseChatModel

from codeloop.models.model_file import ModelFileError, check_explicit, resolve_model_file
from codeloop.models.selfcheck import EngineCheckError, check_engine

if TYPE_CHECKING:
    from codeloop.context import Context

SPEC_FORMS = (
    "'local', 'local:/path/to/model.gguf', 'tgi:http://HOST:PORT' or a LangChain "
    "'PROVIDER:MODEL' (e.g. 'openai:MODEL?base_url=http://HOST:PORT/v1', 'ollama:qwen2.5-coder')"
)
Role = Literal["generator", "reviewer"]
LOCAL_CONTEXT_TOKENS = 8192
# lru_cache does not stop two threads from both missing and loading the model twice.
_LOAD_LOCK = threading.Lock()
# Chat model objects registered in this process, by name (see register_model).
_REGISTERED: dict[str, BaseChatModel] = {}
_NUMBERS = itertools.count(1)


class ModelSpecError(ValueError):
    """The model spec is not one codeloop knows."""


def chat_model(context: Context, role: Role = "generator") -> BaseChatModel:
    """The chat model a run's context names for `role` (loaded once per process and spec)."""
    return load_model(spec_for(context, role), timeout=context.model_timeout)


def spec_for(context: Context, role: Role = "generator") -> str:
    """The model spec for `role`: the reviewer's own if it has one, else the generator's."""
    if role == "reviewer" and context.reviewer_model:
        return context.reviewer_model
    return context.model


def register_model(model: BaseChatModel, name: str | None = None) -> str:
    """Make a chat model object usable as a spec (`registered:NAME`) in this process.

    For code that builds its own model (a notebook, a test): the spec goes in the
    Context like any other. It names nothing in another process, so a run started with
    it can only be resumed by the process that registered it.
    """
    name = name or f"model-{next(_NUMBERS)}"
    _REGISTERED[name] = model
    return f"registered:{name}"


def load_model(spec: str, *, timeout: float = 300.0) -> BaseChatModel:
    """Return the chat model for `spec`, loading it on first use in this process."""
    kind, _, target = spec.strip().partition(":")
    if kind == "local":
        return _load_local(target, timeout)
    if kind == "tgi":
        if not target.startswith(("http://", "https://")):
            raise ModelSpecError(
                f"tgi spec needs a URL, e.g. tgi:http://localhost:8080 (got {spec!r})"
            )
        from codeloop.models.tgi import load_tgi

        return load_tgi(target, timeout=timeout)
    if kind == "registered":
        if target not in _REGISTERED:
            raise ModelSpecError(
                f"no model registered as {target!r} in this process (register_model makes one)"
            )
        return _REGISTERED[target]
    if kind == "scripted":
        from codeloop.models.script_file import load_script

        return load_script(target)
    return _load_provider(spec.strip(), timeout)


def _load_provider(spec: str, timeout: float) -> BaseChatModel:
    from codeloop.models.provider import ProviderSpecError, load_provider

    if ":" not in spec:
        raise ModelSpecError(f"unknown model spec {spec!r}: use {SPEC_FORMS}")
    try:
        return load_provider(spec, timeout=timeout)
    except ProviderSpecError as exc:
        if "Unsupported provider" in str(exc):
            raise ModelSpecError(f"unknown model spec {spec!r}: use {SPEC_FORMS}") from None
        raise ModelSpecError(str(exc)) from None


@functools.lru_cache(maxsize=4)
def _engine(path: str) -> object:
    from codeloop.models.local import LlamaEngine, default_threads

    return LlamaEngine(path, n_ctx=LOCAL_CONTEXT_TOKENS, n_threads=default_threads())


def _load_local(target: str, timeout: float) -> BaseChatModel:
    from codeloop.models.local import LlamaChatModel, LlamaEngine

    path = check_explicit(Path(target).expanduser()) if target else resolve_model_file()
    check_engine(str(path))  # a build for another CPU fails here, with the fix, not mid-run
    with _LOAD_LOCK:
        engine = _engine(str(path))
    assert isinstance(engine, LlamaEngine)
    return LlamaChatModel(engine, model_name=path.stem, timeout=timeout)


__all__ = [
    "EngineCheckError", "ModelFileError", "ModelSpecError", "Role", "chat_model", "load_model",
    "register_model", "spec_for",
]
