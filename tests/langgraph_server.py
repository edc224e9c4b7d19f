"""Run `langgraph dev` for tests: a free port, a temporary working directory, a log file.

The server keeps its state in `.langgraph_api/` of its working directory, so it runs in
a temporary one, with a copy of the repo's langgraph.json whose paths are made absolute.
The copy keeps `"env": ".env"`, so a test configures the server as a user would, by
writing `.env` there (or not: a missing .env is how a fresh checkout starts).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STARTUP_SECONDS = 120.0
STOP_SECONDS = 15.0


@dataclass
class DevServer:
    """A running `langgraph dev`: where it listens and where it logs."""

    url: str
    workdir: Path
    log: Path
    process: subprocess.Popen[bytes]

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's output, for failure messages."""
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def free_port() -> int:
    """A port nothing listens on right now (2024, the default, may be taken)."""
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """`count` different ports nothing listens on right now.

    Each probe stays bound until all are chosen: probing one at a time can give the same
    port twice (a CI run's `ray start` was refused for two components on one port).
    """
    with contextlib.ExitStack() as stack:
        probes = [stack.enter_context(socket.socket()) for _ in range(count)]
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]


def write_config(workdir: Path) -> Path:
    """Copy the repo's langgraph.json into `workdir` with absolute paths."""
    config = json.loads((REPO / "langgraph.json").read_text(encoding="utf-8"))
    config["dependencies"] = [str((REPO / dep).resolve()) for dep in config["dependencies"]]
    config["graphs"] = {name: _absolute(spec) for name, spec in config["graphs"].items()}
    config["http"]["app"] = _absolute(config["http"]["app"])
    config["auth"]["path"] = _absolute(config["auth"]["path"])
    target = workdir / "langgraph.json"
    target.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return target


def _absolute(spec: str) -> str:
    path, _, attribute = spec.rpartition(":")
    return f"{(REPO / path).resolve()}:{attribute}"


@contextmanager
def langgraph_dev(
    workdir: Path, env: Mapping[str, str] | None = None, jobs: int = 2
) -> Iterator[DevServer]:
    """Start `langgraph dev` in `workdir`, wait for /ok, and stop its process group after."""
    write_config(workdir)
    port = free_port()
    log = workdir / "server.log"
    command = [
        sys.executable,
        "-m",
        "langgraph_cli",
        "dev",
        "--no-browser",
        "--no-reload",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n-jobs-per-worker",
        str(jobs),
    ]
    environment = {
        **os.environ,
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
        "LANGGRAPH_NO_VERSION_CHECK": "true",
        **(env or {}),
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = DevServer(f"http://127.0.0.1:{port}", workdir, log, process)
    try:
        _wait_until_ok(server)
        yield server
    finally:
        _stop(process)


def _wait_until_ok(server: DevServer) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"langgraph dev exited early:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(f"{server.url}/ok", timeout=2) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    raise RuntimeError(
        f"langgraph dev did not answer /ok in {STARTUP_SECONDS:g} s:\n{server.log_tail()}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group; SIGKILL whatever of it is left after the grace."""
    _signal_group(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_SECONDS)
    _signal_group(process.pid, signal.SIGKILL)
    process.wait()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)
