"""Run llama-cpp-python's own OpenAI-compatible server for tests and benchmarks.

`python -m llama_cpp.server` serves the embedded GGUF on 127.0.0.1: a real server that
speaks the OpenAI API, as vLLM, SGLang or a hosted provider would, so the `openai:` route
is tested against the real thing and not a mock. It needs the server's own packages
(fastapi, uvicorn, sse-starlette, starlette-context, pydantic-settings), which the `dev`
extra installs by name: `llama-cpp-python[server]` would make pip rebuild llama.cpp.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.langgraph_server import free_port

STARTUP_SECONDS = 180.0
STOP_SECONDS = 15.0


@dataclass
class OpenAIServer:
    """A running llama.cpp server: its OpenAI base URL, the spec that names it, its log."""

    base_url: str
    log: Path

    def spec(self, **params: str) -> str:
        """An `openai:` model spec for this server (extra query parameters appended)."""
        query = "".join(f"&{k}={v}" for k, v in params.items())
        return f"openai:qwen2.5-coder-0.5b?base_url={self.base_url}{query}"

    def chat_requests(self) -> int:
        """How many chat completion requests the server has logged so far."""
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return text.count('"POST /v1/chat/completions HTTP')  # uvicorn's access log lines


@contextmanager
def llama_server(model: Path, log: Path, *, threads: int | None = None) -> Iterator[OpenAIServer]:
    """Start the server on a free port, wait until it lists its model, stop it after."""
    port = free_port()
    threads = threads or max(1, len(os.sched_getaffinity(0)))
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
        "--port", str(port), "--n_ctx", "8192", "--n_threads", str(threads),
    ]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    server = OpenAIServer(f"http://127.0.0.1:{port}/v1", log)
    try:
        _wait_until_listed(server, process)
        yield server
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # its own session: the server and nothing else
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_listed(server: OpenAIServer, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited: {server.log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{server.base_url}/models", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"llama_cpp.server did not start in {STARTUP_SECONDS:g} s")
