"""Model backends behind one call: `load_model(spec)` returns a LangChain chat model.

Specs: `local` (the embedded GGUF model, see model_file), `local:/path/model.gguf`,
`tgi:http://HOST:PORT`; `scripted:/path/script.json` is a fake model for tests and demos
(see script_file); `registered:NAME` is a chat model object handed to `register_model`
in this process (a notebook's own model, a test's scripted one). Loaded models are cached
per process and spec, so a batch or a server loads the embedded model once.
"""

from __future__ import annotations

import functools
import itertools
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from langchain_core.language_models import BaseChatModel

from codeloop.models.model_file import ModelFileError, check_explicit, resolve_model_file
from codeloop.models.selfcheck import EngineCheckError, check_engine

if TYPE_CHECKING:
    from codeloop.context import Context

SPEC_FORMS = "'local', 'local:/path/to/model.gguf' or 'tgi:http://HOST:PORT'"
LOCAL_CONTEXT_TOKENS = 8192
# lru_cache does not stop two threads from both missing and loading the model twice.
_LOAD_LOCK = threading.Lock()
# Chat model objects registered in this process, by name (see register_model).
_REGISTERED: dict[str, BaseChatModel] = {}
_NUMBERS = itertools.count(1)


class ModelSpecError(ValueError):
    """The model spec is not one codeloop knows."""


def chat_model(context: Context) -> BaseChatModel:
    """The chat model a run's context names (loaded once per process and spec)."""
    return load_model(context.model, timeout=context.model_timeout)


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
    raise ModelSpecError(f"unknown model spec {spec!r}: use {SPEC_FORMS}")


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
    "EngineCheckError", "ModelFileError", "ModelSpecError", "chat_model", "load_model",
    "register_model",
]
