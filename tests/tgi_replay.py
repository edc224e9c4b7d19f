"""A stand-in TGI server for contract tests: a real HTTP server on 127.0.0.1.

It checks every request codeloop sends, and every reply it sends itself, against TGI's
own OpenAPI description (`../shared/tgi/openapi.json`; see tests/tgi_openapi.py), so
scripted replies have TGI's real shape and a request TGI would reject fails the test.

Replies come from TGI's recorded snapshots or are scripted per route, in order or by a
function of the request. A scripted `/generate` body is streamed on `/generate_stream`
token by token as TGI does: one `data:` event per token, the last with the details.

huggingface_hub's InferenceClient sends text generation to TGI's compatibility route
`POST /`, whose body says `"stream": true` or not; TGI answers it as `/generate_stream` or
`/generate`. The replay does the same and files such a request under that route (its
`sent_to` stays `/`), so a test scripts "the streamed generation" whichever URL it used.
"""

from __future__ import annotations

import copy
import json
import os
import re
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.tgi_openapi import Contract

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CODELOOP_SHARED_DIR") or REPO.parent / "shared") / "tgi"
TOKEN = re.compile(r"\s+|\w+|[^\w\s]")
INFO = {
    "model_id": "bigcode/starcoderbase-7b",
    "model_sha": "0b5a8e1ed9a1e1f7f7e8e3e1c2a0c0c0c0c0c0c0",
    "model_pipeline_tag": "text-generation",
    "max_concurrent_requests": 128,
    "max_best_of": 2,
    "max_stop_sequences": 4,
    "max_input_tokens": 6144,
    "max_total_tokens": 8192,
    "validation_workers": 2,
    "max_client_batch_size": 4,
    "router": "text-generation-router",
    "version": "3.3.5",
    "sha": None,
    "docker_label": None,
}
# What each route's request and success reply must look like.
ROUTES = {
    ("GET", "/health"): (None, None),
    ("GET", "/info"): (None, "Info"),
    ("POST", "/tokenize"): ("GenerateRequest", "TokenizeResponse"),
    ("POST", "/generate"): ("GenerateRequest", "GenerateResponse"),
    ("POST", "/generate_stream"): ("GenerateRequest", "StreamResponse"),
    ("POST", "/"): ("CompatGenerateRequest", None),  # answered as one of the two above
    ("POST", "/v1/chat/completions"): ("ChatRequest", None),
}


def snapshot(name: str) -> Any:
    """A recorded TGI response from `snapshots/<name>.json`."""
    return json.loads((SHARED / "snapshots" / f"{name}.json").read_text("utf-8"))


def tokens_of(text: str) -> list[str]:
    """The replay's stand-in tokenizer: words, runs of spaces, single punctuation marks."""
    return TOKEN.findall(text)


def generate_response(text: str, finish_reason: str = "eos_token") -> dict[str, Any]:
    """A `/generate` reply in TGI's shape for `text` (tokens split by `tokens_of`)."""
    tokens = [
        {"id": zlib.crc32(t.encode()) % 49152, "logprob": -0.25, "special": False, "text": t}
        for t in tokens_of(text)
    ]
    details = {
        "best_of_sequences": None,
        "finish_reason": finish_reason,
        "generated_tokens": len(tokens),
        "prefill": [],
        "seed": None,
        "tokens": tokens,
        "top_tokens": None,
    }
    return {"details": details, "generated_text": text}


def stream_events(response: dict[str, Any], input_length: int) -> list[dict[str, Any]]:
    """The `/generate_stream` events TGI sends for a `/generate` reply."""
    details = response["details"]
    events = [
        {"index": i + 1, "token": token, "top_tokens": [], "generated_text": None, "details": None}
        for i, token in enumerate(details["tokens"])
    ]
    events[-1]["generated_text"] = response["generated_text"]
    events[-1]["details"] = {
        "finish_reason": details["finish_reason"],
        "generated_tokens": details["generated_tokens"],
        "input_length": input_length,
        "seed": details["seed"],
    }
    return events


def error(message: str, kind: str) -> dict[str, str]:
    """TGI's error body."""
    return {"error": message, "error_type": kind}


@dataclass
class Reply:
    """One scripted answer: a JSON body, or a list of Server-Sent Event payloads."""

    status: int = 200
    body: Any = None
    events: list[Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


Responder = Callable[[dict[str, Any]], Reply]


@dataclass
class Seen:
    """A request as the server received it."""

    method: str
    path: str
    body: Any
    problems: list[str]
    sent_to: str = ""  # the URL path, where it differs from `path` (TGI's `/` route)


class ReplayServer:
    """The stand-in TGI: `with ReplayServer() as tgi: ... tgi.url ...`."""

    def __init__(self, info: dict[str, Any] | None = None) -> None:
        openapi = json.loads((SHARED / "openapi.json").read_text("utf-8"))
        self.contract = Contract(openapi)
        self.reply_contract = Contract(openapi, replies=True)
        self.info = {**INFO, **(info or {})}
        self.seen: list[Seen] = []
        self.reply_problems: list[str] = []
        self.scripts: dict[str, list[Reply | Responder]] = {}
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:40123."""
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def script(self, path: str, *replies: Reply | Responder) -> None:
        """Answer `path` with these replies in order; a responder answers every request left."""
        self.scripts.setdefault(path, []).extend(replies)

    def requests(self, path: str) -> list[Seen]:
        """The requests received on `path`, in order."""
        return [s for s in self.seen if s.path == path]

    def contract_problems(self) -> list[str]:
        """Every way a request or a reply broke TGI's OpenAPI description."""
        return [p for s in self.seen for p in s.problems] + self.reply_problems

    def __enter__(self) -> ReplayServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def answer(self, method: str, path: str, body: Any) -> Reply:
        """Record and check the request, then pick its reply."""
        request_schema, _ = ROUTES.get((method, path), (None, None))
        problems = [] if request_schema is None else self.contract.problems(request_schema, body)
        if (method, path) not in ROUTES:
            problems.append(f"{method} {path}: not a route codeloop should use")
        sent_to, path = path, route_of(method, path, body)
        with self.lock:
            self.seen.append(Seen(method, path, body, problems, sent_to))
            queue = self.scripts.get(path, [])
            scripted = queue.pop(0) if queue and isinstance(queue[0], Reply) else None
            responder = queue[0] if queue and not isinstance(queue[0], Reply) else None
        if problems:
            return Reply(422, error("; ".join(problems), "validation"))
        if scripted is not None:
            return scripted
        if responder is not None:
            return responder(body)
        return self._default(path, body)

    def _default(self, path: str, body: Any) -> Reply:
        if path == "/health":
            return Reply()
        if path == "/info":
            return Reply(body=self.info)
        if path == "/tokenize":
            pieces = tokens_of(body["inputs"])
            starts = [sum(len(p) for p in pieces[:i]) for i in range(len(pieces))]
            return Reply(body=[{"id": zlib.crc32(p.encode()) % 49152, "text": p, "start": s,
                                "stop": s + len(p)} for p, s in zip(pieces, starts, strict=True)])
        return Reply(500, error(f"replay: no reply scripted for {path}", "replay"))

    def check_reply(self, method: str, path: str, reply: Reply) -> None:
        """Record how a reply breaks TGI's description (scripted replies must not)."""
        _, schema = ROUTES.get((method, path), (None, None))
        if path == "/v1/chat/completions":
            schema = "ChatCompletion" if reply.events is None else "ChatCompletionChunk"
        payloads = reply.events if reply.events is not None else [reply.body]
        for payload in payloads:
            if isinstance(payload, str):
                continue  # a raw event such as "[DONE]"
            if isinstance(payload, dict) and "error" in payload:
                self.reply_problems += self.reply_contract.problems("ErrorResponse", payload)
            elif schema and reply.status == 200 and payload is not None:
                self.reply_problems += self.reply_contract.problems(schema, payload)


def route_of(method: str, path: str, body: Any) -> str:
    """The route TGI answers a request as: `POST /` is `/generate` or `/generate_stream`."""
    if (method, path) != ("POST", "/"):
        return path
    streaming = isinstance(body, dict) and body.get("stream") is True
    return "/generate_stream" if streaming else "/generate"


def streamed(reply: Reply, input_length: int) -> Reply:
    """A `/generate` reply turned into the `/generate_stream` reply TGI would send."""
    if reply.status != 200 or reply.events is not None:
        return reply
    return Reply(events=stream_events(copy.deepcopy(reply.body), input_length), delay=reply.delay)


def _handler(server: ReplayServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._serve(None)

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw)
            except ValueError as exc:
                self._send(Reply(422, error(f"Failed to parse the request body as JSON: {exc}",
                                            "validation")))
                return
            self._serve(body)

        def _serve(self, body: Any) -> None:
            sent_to = self.path.split("?")[0]
            reply = server.answer(self.command, sent_to, body)
            path = route_of(self.command, sent_to, body)
            if path == "/generate_stream" and body:
                reply = streamed(reply, len(tokens_of(body.get("inputs", ""))))
            if path == "/generate" and body and reply.status == 200:
                reply.headers.setdefault("x-prompt-tokens", str(len(tokens_of(body["inputs"]))))
            server.check_reply(self.command, path, reply)
            if sent_to == "/" and path == "/generate" and reply.status == 200:
                # TGI's `/` answers a plain generation as a list of one.
                reply = Reply(body=[reply.body], headers=reply.headers, delay=reply.delay)
            time.sleep(reply.delay)
            self._send(reply)

        def _send(self, reply: Reply) -> None:
            try:
                if reply.events is None:
                    self._send_json(reply)
                else:
                    self._send_events(reply)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test): nothing left to tell it

        def _send_json(self, reply: Reply) -> None:
            data = b"" if reply.body is None else json.dumps(reply.body).encode()
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _send_events(self, reply: Reply) -> None:
            self.send_response(reply.status)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            events = reply.events or []
            payloads = [f"data:{e if isinstance(e, str) else json.dumps(e)}\n\n" for e in events]
            for payload in payloads:
                data = payload.encode()
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
