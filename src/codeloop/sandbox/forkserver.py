"""The parent's handle on the zygote: start it once, hand it requests from any thread.

One zygote serves the whole codeloop process (it is a process-wide resource like a
connection pool, guarded by a lock). It is started lazily, restarted if it died, and
replaced in a forked child of codeloop (which must not share its parent's socket).
Sending a request is a single `sendmsg` of a small JSON message with four pipe ends.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from codeloop.sandbox.child import linux

CHILD_DIR = Path(__file__).with_name("child")
STARTUP_SECONDS = 60.0
PACKAGE = "_codeloop_sandbox_child"

# Loads the child package by path under a private name, so that the zygote imports
# neither codeloop nor its dependencies (only the standard library and pytest).
BOOT = (
    "import importlib, importlib.util as u, sys\n"
    f"s = u.spec_from_file_location({PACKAGE!r}, sys.argv[1] + '/__init__.py',"
    " submodule_search_locations=[sys.argv[1]])\n"
    "m = u.module_from_spec(s); sys.modules[s.name] = m; s.loader.exec_module(m)\n"
    f"importlib.import_module({PACKAGE!r} + '.zygote').main(int(sys.argv[2]))\n"
)


class SandboxUnavailable(RuntimeError):
    """The zygote could not be started or reached."""


def zygote_env() -> dict[str, str]:
    """Build a minimal environment: no credentials or tokens of the user reach the sandbox."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }


def hide_own_environment() -> None:
    """Make this process non-dumpable, so no process of the same user can read its memory.

    Our environment holds the user's tokens, and `/proc/PID/environ` shows the one a
    process started with, whatever it deleted since. Where no PID namespace hides us
    (a container without namespaces), generated code runs as our own uid and could read
    it; a non-dumpable process's /proc files belong to root. Costs: no core dumps, and
    attaching a debugger needs root.
    """
    if linux.available():
        with contextlib.suppress(OSError):
            linux.prctl(linux.PR_SET_DUMPABLE, 0)


class ForkServer:
    """A lazily started zygote process and the socket that feeds it requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._owner = 0
        atexit.register(self.stop)

    def submit(self, request: dict[str, Any], fds: list[int]) -> None:
        """Hand one run to the zygote (restarting it once if it has gone away)."""
        payload = json.dumps(request).encode()
        with self._lock:
            for attempt in range(2):
                sock = self._ensure()
                try:
                    socket.send_fds(sock, [payload], fds)
                    return
                except OSError as exc:
                    self._discard()
                    if attempt:
                        reason = f"the sandbox's zygote is unreachable: {exc}"
                        raise SandboxUnavailable(reason) from exc

    def _ensure(self) -> socket.socket:
        alive = self._proc is not None and self._proc.poll() is None
        if self._sock is None or self._owner != os.getpid() or not alive:
            self._discard()
            self._start()
        assert self._sock is not None
        return self._sock

    def _start(self) -> None:
        hide_own_environment()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-c", BOOT, str(CHILD_DIR), str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), env=zygote_env(), cwd="/",
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                start_new_session=True,
            )
        finally:
            theirs.close()
        ours.settimeout(STARTUP_SECONDS)
        try:
            ready = ours.recv(16)
        except OSError:
            ready = b""
        ours.settimeout(None)
        assert proc.stderr is not None
        if ready != b"ready":
            proc.kill()
            error = proc.stderr.read().decode(errors="replace").strip().splitlines()
            ours.close()
            last = error[-1] if error else f"exit code {proc.wait()}"
            raise SandboxUnavailable(f"the sandbox's zygote did not start: {last}")
        proc.stderr.close()
        self._proc, self._sock, self._owner = proc, ours, os.getpid()

    def _discard(self) -> None:
        """Forget the current zygote; closing our socket end makes it exit."""
        if self._sock is not None:
            self._sock.close()
        if self._proc is not None and self._owner == os.getpid():
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        self._proc, self._sock = None, None

    def stop(self) -> None:
        """Shut the zygote down (at exit; runs already handed over finish on their own)."""
        with self._lock:
            self._discard()


SERVER = ForkServer()
