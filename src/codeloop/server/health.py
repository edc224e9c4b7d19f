"""Is the model backend able to serve? One answer, with a reason fit to show a client.

The embedded model is ready once it loads (the first check loads it, so a health probe
also warms the server); a TGI server is asked for its own /health. Reasons never carry
paths or URLs (a URL may hold credentials): the details go to the server log.
"""

from __future__ import annotations

import logging
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass

from codeloop.models import SPEC_FORMS, EngineCheckError, ModelFileError, load_model
from codeloop.models.tgi import split_spec

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
        with urllib.request.urlopen(f"{base}/health", timeout=timeout) as reply:
            status = reply.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        log.warning("health: TGI at %s unreachable: %s", url, reason)
        return f"the TGI server is unreachable ({_short(reason)})"
    return None if status == 200 else f"the TGI server answered HTTP {status} to /health"


def _short(reason: object) -> str:
    """Keep an OS error's words without its errno, e.g. 'Connection refused'."""
    text = getattr(reason, "strerror", None) or str(reason)
    return " ".join(str(text).split())[:120]
