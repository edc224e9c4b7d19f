"""What protects the service endpoints: a per-client rate limit, a body cap, their own CORS.

The service app is merged into LangGraph's server, whose middleware is global and allows
every CORS origin (Studio, served from another origin, needs that). `ServiceGuard`
therefore handles only the service paths: it answers CORS for them with the configured
origins alone and hides the request's Origin from the inner, allow-all CORS layer.
"""

from __future__ import annotations

import json
import math
import time
from collections import deque
from collections.abc import Callable, Iterable

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

WINDOW_SECONDS = 60.0
PRUNE_ABOVE_CLIENTS = 1024


class RateLimiter:
    """At most `per_minute` requests per client in any sliding 60-second window.

    Used from the event loop only (an async dependency), so it needs no lock.
    """

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._seen: dict[str, deque[float]] = {}

    def acquire(self, client: str) -> float | None:
        """Count a request; None if allowed, else the seconds until one would be."""
        if self.per_minute <= 0:
            return None
        now = self.clock()
        if len(self._seen) > PRUNE_ABOVE_CLIENTS:
            self._prune(now)
        times = self._seen.setdefault(client, deque())
        while times and times[0] <= now - WINDOW_SECONDS:
            times.popleft()
        if len(times) >= self.per_minute:
            return times[0] + WINDOW_SECONDS - now
        times.append(now)
        return None

    def _prune(self, now: float) -> None:
        stale = [c for c, t in self._seen.items() if not t or t[-1] <= now - WINDOW_SECONDS]
        for client in stale:
            del self._seen[client]


def retry_after(seconds: float) -> str:
    """Format a wait as a Retry-After value: whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(seconds)))


class ServiceGuard:
    """For the service paths only: own CORS, and bodies over the cap refused with 413."""

    def __init__(
        self, app: ASGIApp, *, paths: Iterable[str], origins: Iterable[str], max_body: int
    ) -> None:
        self.app = app
        self.paths = frozenset(paths)
        self.guarded = CORSMiddleware(
            _BodyCap(_WithoutOrigin(app), max_body),
            allow_origins=list(origins),
            allow_methods=["GET", "POST"],
            allow_headers=["content-type", "x-api-key", "authorization"],
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send service-path requests through the guard, everything else straight on."""
        if scope["type"] == "http" and scope["path"] in self.paths:
            await self.guarded(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class _WithoutOrigin:
    """Drops the Origin header, so CORS layers further in leave the response alone."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(k, v) for k, v in scope["headers"] if k != b"origin"]
        await self.app({**scope, "headers": headers}, receive, send)


class _BodyCap:
    """Reads the whole body first (it is small by design) and refuses one over the cap.

    Counting the bytes received covers chunked bodies, which carry no Content-Length.
    """

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        body, complete = bytearray(), False
        if not declared.isdigit() or int(declared) <= self.max_body:
            while len(body) <= self.max_body:
                message = await receive()
                if message["type"] != "http.request":
                    return  # the client went away
                body += message.get("body", b"")
                if not message.get("more_body", False):
                    complete = True
                    break
        if not complete or len(body) > self.max_body:
            await _too_large(send, self.max_body)
            return
        await self.app(scope, _replay(bytes(body), receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _too_large(send: Send, limit: int) -> None:
    detail = f"the request body is over the limit of {limit:,} bytes"
    payload = json.dumps({"detail": detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
