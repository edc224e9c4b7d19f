"""Is the model backend able to serve? One answer, with a reason fit to show a client.

The embedded model is ready once it loads (the first check loads it, so a health probe
also warms the server); a TGI server is asked for its own /health, through the same
huggingface_hub client codeloop generates with; a LangChain provider's model must build
(its package installed), and one with a `base_url` (an OpenAI-compatible server such as
vLLM, SGLang or llama.cpp's) must answer there. Reasons never carry paths or URLs (a URL
may hold credentials): the details go to the server log.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import httpx

from codeloop.models import SPEC_FORMS, EngineCheckError, ModelFileError, load_model
from codeloop.models.provider import ProviderChatModel
from codeloop.models.tgi import split_spec
from codeloop.models.tgi_client import TGIError, TGIServer, os_reason

log = logging.getLogger(__name__)
PROBE_TIMEOUT = 3.0
_loading = threading.Lock()  # two first probes at once must not load the model twice


@dataclass(frozen=True)
class Probe:
    """The outcome of one health check."""

    backend: str
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """True when the backend can serve."""
        return self.reason is None


def check_backend(spec: str, timeout: float = PROBE_TIMEOUT) -> Probe:
    """Check the backend `spec` names (blocking: call it from a worker thread)."""
    kind, _, target = spec.strip().partition(":")
    if kind == "local":
        return Probe("local", _local_problem(spec))
    if kind == "tgi":
        return Probe("tgi", _tgi_problem(target, timeout))
    if kind and target and kind not in ("registered", "scripted"):
        return Probe(kind, _provider_problem(spec, timeout))
    return Probe("unknown", f"the server's model spec is not valid: use {SPEC_FORMS}")


def _local_problem(spec: str) -> str | None:
    try:
        with _loading:
            load_model(spec)
    except ModelFileError as exc:
        log.warning("health: %s", exc)
        return "the embedded model file is missing or damaged (details in the server log)"
    except EngineCheckError as exc:
        log.warning("health: %s", exc)
        return (
            "the installed llama.cpp build cannot run on this CPU "
            "(the server log has the command that rebuilds it)"
        )
    except Exception as exc:  # llama.cpp missing or failing to load: all mean "cannot serve"
        log.warning("health: the embedded model does not load: %s", exc)
        return "the embedded model does not load (details in the server log)"
    return None


def _tgi_problem(url: str, timeout: float) -> str | None:
    if not url.startswith(("http://", "https://")):
        return f"the server's model spec is not valid: use {SPEC_FORMS}"
    try:
        base, _ = split_spec(url)  # drop a `?family=` parameter
    except ValueError as exc:
        log.warning("health: %s", exc)
        return f"the server's model spec is not valid: use {SPEC_FORMS}"
    try:
        TGIServer(base, attempts=1, probe_timeout=timeout).health()
    except TGIError as exc:
        log.warning("health: %s", exc)
        if exc.status is not None:
            return f"the TGI server answered HTTP {exc.status} to /health"
        return f"the TGI server is unreachable ({_short(os_reason(exc.__cause__ or exc))})"
    return None


def _provider_problem(spec: str, timeout: float) -> str | None:
    """The model must build; a model served at a base URL must answer there."""
    try:
        model = load_model(spec)
    except Exception as exc:  # a bad spec or a missing provider package
        log.warning("health: %s", exc)
        return "the server's model spec is not valid or its provider package is missing " \
            "(details in the server log)"
    inner = model.inner if isinstance(model, ProviderChatModel) else model
    base = getattr(inner, "openai_api_base", None) or getattr(inner, "base_url", None)
    if not isinstance(base, str) or not base:
        return None  # a hosted provider: nothing of ours to ask
    probe = f"{base.rstrip('/')}/models" if spec.startswith("openai:") else base
    try:
        status = httpx.get(probe, timeout=timeout).status_code
    except httpx.HTTPError as exc:
        log.warning("health: the model server at %s is unreachable: %s", base, exc)
        return f"the model server is unreachable ({_short(os_reason(exc))})"
    return None if status < 500 else f"the model server answered HTTP {status}"


def _short(reason: object) -> str:
    """Keep an OS error's words without its errno, e.g. 'Connection refused'."""
    text = getattr(reason, "strerror", None) or str(reason)
    return " ".join(str(text).split())[:120]
