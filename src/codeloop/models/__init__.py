"""Model backends behind one call: `load_model(spec)` returns a LangChain chat model.

Specs: `local` (the embedded GGUF model, see model_file), `local:/path/model.gguf`,
`tgi:http://HOST:PORT`; `scripted:/path/script.json` is a fake model for tests and demos
(see script_file). Loaded models are cached per process and spec, so a batch or a
server loads the embedded model once.
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path

from langchain_core.language_models import BaseChatModel

from codeloop.models.model_file import ModelFileError, check_explicit, resolve_model_file
from codeloop.models.selfcheck import EngineCheckError, check_engine

SPEC_FORMS = "'local', 'local:/path/to/model.gguf' or 'tgi:http://HOST:PORT'"
LOCAL_CONTEXT_TOKENS = 8192
# lru_cache does not stop two threads from both missing and loading the model twice.
_LOAD_LOCK = threading.Lock()


class ModelSpecError(ValueError):
    """The model spec is not one codeloop knows."""


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


__all__ = ["EngineCheckError", "ModelFileError", "ModelSpecError", "load_model"]
