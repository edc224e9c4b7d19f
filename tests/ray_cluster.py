"""A real two-node Ray cluster on this machine, for tests and the benchmark.

`ray start --head` and `ray start --address` each run with `--block` in a process group of
their own, so stopping the cluster ends exactly the processes it started (never another
cluster on the machine, as `ray stop` would). Every fixed port Ray would use is chosen
free here; the rest Ray picks at random. Each node offers `cpus` CPUs, so a test decides
how many workers fit on it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.langgraph_server import free_ports

RAY = Path(sys.executable).parent / "ray"
START_SECONDS = 90.0
STOP_SECONDS = 3.0  # then SIGKILL: Ray's own drain takes half a minute, and nothing here needs it
# The clusters of this test process and their drivers share a token (Ray's token auth), so
# they neither read nor write ~/.ray/auth_token, which a local ray.init() would create.
TOKEN = secrets.token_hex(16)


@dataclass
class RayCluster:
    """A running cluster: the head's address and the `ray start` processes."""

    address: str
    processes: list[subprocess.Popen[bytes]]
    logs: list[Path]

    def log_tail(self, lines: int = 30) -> str:
        """The end of each node's `ray start` output, for failure messages."""
        return "\n".join(
            "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) for log in self.logs
        )


def ray_env() -> dict[str, str]:
    """The environment for `ray start` and drivers: our token, no usage statistics, no stray cluster."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("RAY_ADDRESS", "CODELOOP_DB", "RAY_AUTH_TOKEN_PATH")}
    return {**env, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": TOKEN}


SERVICES = ["--dashboard-agent-listen-port", "--dashboard-agent-grpc-port",
            "--runtime-env-agent-port", "--metrics-export-port"]


def _start(args: list[str], ports: list[int], log: Path) -> subprocess.Popen[bytes]:
    """`ray start` with `args`, and the node's own SERVICES on `ports` (all different)."""
    services = [f"{flag}={port}" for flag, port in zip(SERVICES, ports, strict=True)]
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(RAY), "start", "--block", "--disable-usage-stats", "--node-ip-address",
             "127.0.0.1", *args, *services],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=ray_env(),
            start_new_session=True,
        )


def _wait_started(process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while "Ray runtime started" not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"ray start failed:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.2)


@contextmanager
def ray_cluster(workdir: Path, cpus: int = 1) -> Iterator[RayCluster]:
    """A head and a second node, `cpus` CPUs each; both stopped afterwards."""
    # chosen together, so no two are the same; the second node's once the head holds its own
    port, dashboard, client, *services = free_ports(3 + len(SERVICES))
    address = f"127.0.0.1:{port}"
    logs = [workdir / "head.log", workdir / "node.log"]
    processes: list[subprocess.Popen[bytes]] = []
    # Ray's sockets live under its temp dir, whose path must stay short (AF_UNIX limit).
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    try:
        processes.append(_start(
            ["--head", "--port", str(port), "--num-cpus", str(cpus), "--include-dashboard=false",
             "--dashboard-port", str(dashboard), "--ray-client-server-port", str(client),
             "--temp-dir", temp], services, logs[0]))
        _wait_started(processes[0], logs[0])
        processes.append(_start(["--address", address, "--num-cpus", str(cpus)],
                                free_ports(len(SERVICES)), logs[1]))
        _wait_started(processes[1], logs[1])
        yield RayCluster(address, processes, logs)
    finally:
        for process in reversed(processes):
            _stop(process)
        shutil.rmtree(temp, ignore_errors=True)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the node's process group, SIGKILL what is left after the grace."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_SECONDS)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
