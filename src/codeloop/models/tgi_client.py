"""HTTP client for a Text Generation Inference (TGI) server: timeouts, retries, one-line errors.

It speaks TGI's own routes (`/health`, `/info`, `/tokenize`, `/generate`,
`/generate_stream`, `/v1/chat/completions`) over httpx rather than through a generic
inference client, because the policy is the point: every request has a 60 s timeout;
429 (overloaded), 503 (unavailable) and connection failures are retried with exponential
backoff, three attempts in all; everything else fails at once. TGI reports some errors
inside a 200 event stream (an overloaded queue, a validation error), so a stream is
retried only until its first event arrives: after that, tokens have been handed out and
a retry would repeat them. Every final failure is a `TGIError` whose message is one line
naming the endpoint and the cause.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import httpx

REQUEST_TIMEOUT = 60.0
ATTEMPTS = 3
BACKOFF = 1.0
RETRY_STATUS = frozenset({429, 503})
RETRY_ERROR_TYPES = frozenset({"overloaded"})

T = TypeVar("T")


class TGIError(RuntimeError):
    """A TGI request failed for good; the message names the endpoint and the cause."""

    def __init__(self, endpoint: str, cause: str, *, status: int | None = None) -> None:
        super().__init__(f"TGI {endpoint}: {' '.join(cause.split())}")
        self.endpoint = endpoint
        self.status = status


class _Transient(Exception):
    """A failure worth another attempt (429, 503, a refused or dropped connection)."""

    def __init__(self, cause: str, status: int | None = None) -> None:
        super().__init__(cause)
        self.cause = cause
        self.status = status


class TGIClient:
    """Synchronous client for one TGI server; thread-safe (one pooled httpx.Client)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = REQUEST_TIMEOUT,
        attempts: int = ATTEMPTS,
        backoff: float = BACKOFF,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.http = httpx.Client(base_url=self.base_url, timeout=httpx.Timeout(timeout))

    def endpoint(self, path: str) -> str:
        """Return the full URL of `path`, as error messages name it."""
        return f"{self.base_url}{path}"

    def health(self) -> None:
        """Return if the server is healthy; TGIError (after retries) if not."""
        self._call("GET", "/health", None)

    def info(self) -> dict[str, Any]:
        """Return the served model and its limits (`model_id`, `max_input_tokens`, ...)."""
        return dict(self._call("GET", "/info", None).json())

    def count_tokens(self, text: str) -> int:
        """How many tokens the server's tokenizer makes of `text`."""
        return len(self._call("POST", "/tokenize", {"inputs": text}).json())

    def post(
        self, path: str, body: dict[str, Any], timeout: float | None = None
    ) -> httpx.Response:
        """POST a JSON body; the (successful) response. `timeout` may only shorten the limit."""
        return self._call("POST", path, body, timeout)

    def stream(self, path: str, body: dict[str, Any], budget: float) -> Iterator[dict[str, Any]]:
        """POST a JSON body and yield its Server-Sent Events as dicts, within `budget` seconds."""
        endpoint = self.endpoint(path)
        deadline = time.monotonic() + budget
        response, events = self._retrying(endpoint, lambda: self._open_stream(path, body))
        try:
            for event in events:
                if "error" in event:
                    raise TGIError(endpoint, _event_cause(event))
                yield event
                if time.monotonic() > deadline:
                    raise TGIError(endpoint, f"the reply took longer than {budget:g} s")
        except httpx.TimeoutException:
            raise TGIError(endpoint, f"no token for {self.timeout:g} s") from None
        except httpx.TransportError as exc:
            raise TGIError(endpoint, f"the stream broke off ({_reason(exc)})") from None
        except json.JSONDecodeError as exc:
            raise TGIError(endpoint, f"sent an event that is not JSON ({exc.msg})") from None
        finally:
            response.close()

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def _call(
        self, method: str, path: str, body: dict[str, Any] | None, timeout: float | None = None
    ) -> httpx.Response:
        endpoint = self.endpoint(path)
        seconds = min(self.timeout, timeout or self.timeout)
        return self._retrying(endpoint, lambda: self._once(method, path, body, seconds))

    def _retrying(self, endpoint: str, attempt: Callable[[], T]) -> T:
        """Run `attempt`, retrying transient failures with exponential backoff."""
        last: _Transient | None = None
        for number in range(self.attempts):
            if number:
                time.sleep(self.backoff * 2 ** (number - 1))
            try:
                return attempt()
            except _Transient as exc:
                last = exc
        assert last is not None
        raise TGIError(
            endpoint, f"{last.cause} (gave up after {self.attempts} attempts)", status=last.status
        )

    def _once(
        self, method: str, path: str, body: dict[str, Any] | None, seconds: float
    ) -> httpx.Response:
        endpoint = self.endpoint(path)
        try:
            response = self.http.request(method, path, json=body, timeout=seconds)
        except httpx.TimeoutException as exc:
            raise _timeout(endpoint, exc, seconds) from None
        except httpx.TransportError as exc:
            raise _Transient(f"cannot connect ({_reason(exc)})") from None
        _check(endpoint, response)
        return response

    def _open_stream(
        self, path: str, body: dict[str, Any]
    ) -> tuple[httpx.Response, Iterator[dict[str, Any]]]:
        """Send the request and read up to the first event, where TGI reports overload."""
        endpoint = self.endpoint(path)
        request = self.http.build_request("POST", path, json=body)
        try:
            response = self.http.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise _timeout(endpoint, exc, self.timeout) from None
        except httpx.TransportError as exc:
            raise _Transient(f"cannot connect ({_reason(exc)})") from None
        try:
            if response.is_error:
                response.read()
                _check(endpoint, response)
            events = sse_events(response.iter_lines())
            first = next(events, None)
        except httpx.TransportError as exc:
            response.close()
            raise _Transient(f"the connection dropped ({_reason(exc)})") from None
        except BaseException:
            response.close()
            raise
        if first is None:
            response.close()
            raise TGIError(endpoint, "the stream ended before the first token")
        if "error" in first:
            response.close()
            if first.get("error_type") in RETRY_ERROR_TYPES:
                raise _Transient(_event_cause(first))
            raise TGIError(endpoint, _event_cause(first))
        return response, itertools.chain([first], events)


def sse_events(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """Decode Server-Sent Events: each event's `data` as JSON, until `[DONE]` or the end."""
    data: list[str] = []
    for line in itertools.chain(lines, [""]):
        if line:
            field, _, value = line.partition(":")
            if field == "data":
                data.append(value.removeprefix(" "))
            continue
        if not data:
            continue
        payload, data = "\n".join(data), []
        if payload.strip() == "[DONE]":
            return
        yield json.loads(payload)


def _check(endpoint: str, response: httpx.Response) -> None:
    if not response.is_error:
        return
    status = response.status_code
    cause = f"HTTP {status}: {_error_text(response)}"
    if status in RETRY_STATUS:
        raise _Transient(cause, status)
    raise TGIError(endpoint, cause, status=status)


def _error_text(response: httpx.Response) -> str:
    """TGI's `{"error", "error_type"}` body as text, else the start of whatever came back."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict) and "error" in body:
        return _event_cause(body)
    return response.text[:200]


def _event_cause(event: dict[str, Any]) -> str:
    kind = event.get("error_type")
    return f"{event['error']} ({kind})" if kind else str(event["error"])


def _timeout(endpoint: str, exc: httpx.TimeoutException, seconds: float) -> Exception:
    if isinstance(exc, httpx.ConnectTimeout):
        return _Transient(f"cannot connect within {seconds:g} s")
    return TGIError(endpoint, f"no answer within {seconds:g} s")


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    return text or type(exc).__name__
