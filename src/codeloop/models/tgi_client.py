"""A TGI server through huggingface_hub: one retry policy, and errors that keep TGI's words.

Generation goes through `huggingface_hub.InferenceClient` (`text_generation` here; the chat
route through langchain-huggingface, see tgi.py). `/health`, `/info` and `/tokenize` go
through the same library's HTTP session (`huggingface_hub.get_session`) with a timeout of
their own: the client's `health_check()` and `get_endpoint_info()` take none (the shared
session has none either, so an unresponsive server would hang the start for ever), and
`health_check()` answers a bare bool, dropping TGI's reason.

The policy is ours: 429 (overloaded, also when TGI says so inside a stream), 503 and
connection failures are retried with exponential backoff by tenacity (1 s, then 2 s:
three attempts in all); a stream only until its first event arrives, since after that
tokens have been handed out and a retry would repeat them. Everything else fails at once.
A final failure is a `TGIError` whose message is one line naming the URL, TGI's message
and its kind, e.g. `TGI http://gpu:8080/: HTTP 422: Input validation error: ...
(validation)`; a timeout is a `TGITimeoutError` (a `TimeoutError` too, so the service
endpoints answer 504).
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx
from huggingface_hub import InferenceClient, get_session, hf_raise_for_status
from huggingface_hub.errors import (
    GenerationError,
    HfHubHTTPError,
    IncompleteGenerationError,
    OfflineModeIsEnabled,
    OverloadedError,
    TextGenerationError,
    ValidationError,
)
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from codeloop.models.hub_offline import allow_server

ATTEMPTS = 3
BACKOFF = 1.0
PROBE_TIMEOUT = 10.0
RETRY_STATUS = frozenset({429, 503})
# huggingface_hub's typed errors, by the `error_type` TGI sent.
KIND: dict[type[Exception], str] = {
    ValidationError: "validation",
    OverloadedError: "overloaded",
    GenerationError: "generation",
    IncompleteGenerationError: "incomplete_generation",
}
T = TypeVar("T")


class TGIError(RuntimeError):
    """A TGI request failed for good; the message names the URL and the cause."""

    def __init__(self, endpoint: str, cause: str, *, status: int | None = None) -> None:
        self.cause = " ".join(cause.split())
        super().__init__(f"TGI {endpoint}: {self.cause}")
        self.endpoint = endpoint
        self.status = status


class TGITimeoutError(TGIError, TimeoutError):
    """TGI did not answer, or did not finish, within the time allowed."""


class TGIServer:
    """One TGI server as huggingface_hub reaches it. Thread-safe: clients are made per call."""

    def __init__(
        self,
        base_url: str,
        *,
        attempts: int = ATTEMPTS,
        backoff: float = BACKOFF,
        probe_timeout: float = PROBE_TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.attempts = attempts
        self.backoff = backoff
        self.probe_timeout = probe_timeout
        allow_server(self.base_url)

    def endpoint(self, path: str) -> str:
        """Return the full URL of `path`, as error messages name it."""
        return f"{self.base_url}{path}"

    def inference(self, timeout: float) -> InferenceClient:
        """A client for one call; `timeout` bounds the wait for its reply and for each token.

        One per call and closed after it: an InferenceClient keeps every response it opened
        until it is closed, so a long-lived one grows with every request.
        """
        return InferenceClient(model=self.base_url, timeout=timeout)

    def health(self) -> None:
        """Return if the server is healthy; TGIError (after retries) if not."""
        self.request("GET", "/health")

    def info(self) -> dict[str, Any]:
        """Return the served model and its limits (`model_id`, `max_input_tokens`, ...)."""
        return dict(self.request("GET", "/info").json())

    def count_tokens(self, text: str) -> int:
        """How many tokens the server's tokenizer makes of `text`."""
        return len(self.request("POST", "/tokenize", {"inputs": text}).json())

    def request(self, method: str, path: str, body: Any = None) -> httpx.Response:
        """One probe through huggingface_hub's session, retried like any call."""

        def once() -> httpx.Response:
            response = get_session().request(
                method, self.endpoint(path), json=body, timeout=self.probe_timeout
            )
            hf_raise_for_status(response)
            return response

        return self.call(path, once, self.probe_timeout)

    def call(self, path: str, attempt: Callable[[], T], timeout: float) -> T:
        """Run `attempt`, retrying transient failures; a final failure becomes a TGIError."""
        retrying = Retrying(
            retry=retry_if_exception(transient),
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=self.backoff),
            reraise=True,
        )
        try:
            return retrying(attempt)
        except Exception as exc:
            failure = self.error(path, exc, timeout)
            if failure is None:
                raise
            raise failure from exc

    def stream(
        self, path: str, start: Callable[[], Iterator[T]], *, timeout: float, budget: float
    ) -> Iterator[T]:
        """The events `start()` streams: retried until the first arrives, ended after `budget` s."""
        deadline = time.monotonic() + budget
        events: Iterator[T] = iter(())

        def first() -> list[T]:
            nonlocal events
            events = _until_done(start())
            return list(itertools.islice(events, 1))

        head = self.call(path, first, timeout)
        try:
            yield from head
            for event in events:
                yield event
                if time.monotonic() > deadline:
                    raise TGITimeoutError(
                        self.endpoint(path), f"the reply took longer than {budget:g} s"
                    )
        except TGIError:
            raise
        except Exception as exc:
            failure = self.error(path, exc, timeout)
            if failure is None:
                raise
            raise failure from exc

    def error(self, path: str, exc: Exception, timeout: float) -> TGIError | None:
        """`exc` as a one-line TGIError, or None for a failure that is not TGI's."""
        endpoint = self.endpoint(path)
        status, body = http_failure(exc)
        if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
            return TGITimeoutError(endpoint, f"no answer within {timeout:g} s")
        if isinstance(exc, httpx.ConnectTimeout):
            cause = f"cannot connect within {timeout:g} s"
        elif status is not None:
            cause = f"HTTP {status}: {body}"
        elif isinstance(exc, TextGenerationError):
            cause = _with_kind(str(exc), KIND.get(type(exc)))
        elif isinstance(exc, httpx.ConnectError):
            cause = f"cannot connect ({os_reason(exc)})"
        elif isinstance(exc, httpx.TransportError):
            cause = f"the connection broke off ({os_reason(exc)})"
        elif isinstance(exc, json.JSONDecodeError):
            cause = f"sent an event that is not JSON ({exc.msg})"
        elif isinstance(exc, OfflineModeIsEnabled):
            cause = str(exc)
        else:
            return None
        if transient(exc):
            cause += f" (gave up after {self.attempts} attempts)"
        return TGIError(endpoint, cause, status=status)


def transient(exc: BaseException) -> bool:
    """Worth another attempt: overload, unavailability, a refused or dropped connection."""
    if isinstance(exc, OverloadedError):
        return True
    status, _ = http_failure(exc)
    if status is not None:
        return status in RETRY_STATUS
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.RemoteProtocolError
                      | httpx.ReadError)


def http_failure(exc: BaseException) -> tuple[int | None, str]:
    """The HTTP status of a failed reply and TGI's `{"error", "error_type"}` body as text.

    huggingface_hub raises its typed errors (ValidationError...) from the HTTP error, so
    the reply is found on the exception or on its cause.
    """
    http = exc if isinstance(exc, HfHubHTTPError) else exc.__cause__
    if not isinstance(http, HfHubHTTPError) or http.response is None:
        return None, ""
    response = http.response
    try:
        payload = response.json()
    except (ValueError, httpx.ResponseNotRead):
        return response.status_code, response.reason_phrase
    if isinstance(payload, dict) and "error" in payload:
        return response.status_code, _with_kind(str(payload["error"]), payload.get("error_type"))
    return response.status_code, json.dumps(payload)[:200]


def os_reason(exc: BaseException) -> str:
    """The operating system's words for a failed connection, e.g. 'Connection refused'."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror
        seen = seen.__cause__ or seen.__context__
    return str(exc).strip() or type(exc).__name__


def _with_kind(message: str, kind: str | None) -> str:
    return f"{message} ({kind})" if kind else message


def _until_done(events: Iterator[T]) -> Iterator[T]:
    """`events`, ending quietly at a `data:[DONE]` line huggingface_hub fails to parse.

    huggingface_hub (1.33 and 2.4 alike) recognises the end of an OpenAI-style stream only
    as `data: [DONE]`, with a space; TGI's server (axum) writes `data:[DONE]`, which the
    SSE format allows, and the client then raises JSONDecodeError on "[DONE]" at the end
    of every chat stream.
    """
    try:
        yield from events
    except json.JSONDecodeError as exc:
        if exc.doc.strip() != "[DONE]":
            raise
