"""Let huggingface_hub reach the servers you named even when `HF_HUB_OFFLINE=1`.

huggingface_hub sends every request, the InferenceClient's included, through one shared
httpx session whose request hook refuses *any* URL in offline mode, a TGI server on
127.0.0.1 too (`OfflineModeIsEnabled: Cannot reach http://127.0.0.1:8080/...`). Offline
mode is meant to keep a process off the Hub (codeloop sets it in CI and for the
embedded model), not off a server the user configured, and the flag is read once, when
huggingface_hub is imported, so unsetting it later changes nothing.

So when offline mode is on, `allow_server(url)` installs (once) a session factory whose
hook still refuses every host but the servers allowed here: the Hub stays out of reach.
With offline mode off, nothing is changed.
"""

from __future__ import annotations

import threading

import httpx
from huggingface_hub import constants, set_client_factory
from huggingface_hub.errors import OfflineModeIsEnabled

_ALLOWED: set[tuple[str, str, int | None]] = set()
_LOCK = threading.Lock()
_installed = False


def allow_server(url: str) -> None:
    """Exempt the server at `url` (scheme, host and port) from huggingface_hub's offline mode."""
    global _installed
    if not constants.is_offline_mode():
        return
    with _LOCK:
        _ALLOWED.add(_origin(url))
        if not _installed:
            set_client_factory(_session)
            _installed = True


def _session() -> httpx.Client:
    """huggingface_hub's own session settings, with the offline check below."""
    return httpx.Client(event_hooks={"request": [_refuse_unless_allowed]},
                        follow_redirects=True, timeout=None)


def _refuse_unless_allowed(request: httpx.Request) -> None:
    if constants.is_offline_mode() and _origin(str(request.url)) not in _ALLOWED:
        raise OfflineModeIsEnabled(
            f"Cannot reach {request.url}: offline mode is enabled (HF_HUB_OFFLINE) and it is "
            "not a server codeloop was configured with"
        )


def _origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port as httpx reads them (a default port is None either way)."""
    parsed = httpx.URL(url)
    return parsed.scheme, parsed.host, parsed.port
