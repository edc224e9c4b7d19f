"""The zygote: a pre-warmed process that forks one supervisor per sandboxed run.

Starting Python and importing pytest costs most of a naive run; the zygote pays it
once. It imports pytest, runs a throw-away session so that every lazily imported module
is loaded, freezes the heap for the garbage collector (so forked children do not touch
the shared pages), then serves requests: each is a small JSON message plus four pipe
write ends (stdout, stderr, records, status) sent over a SOCK_SEQPACKET socket, and is
answered by forking a supervisor (supervise.py) that owns the run from then on.

The zygote is started with a scrubbed environment and never sees the code or the
parent's secrets; it exits when the parent closes its end of the socket.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import signal
import socket
import sys
import tempfile

from . import cgroup, linux, runner, supervise, syscalls

WARM_UP_TESTS = '''
import pytest

@pytest.fixture
def value():
    return 2

@pytest.mark.parametrize("n", [1, 2])
def test_param(n, value, monkeypatch, capsys):
    assert n * value == {1: 2, 2: 4}[n]

class TestWarm:
    def test_fails(self):
        assert [1, 2] == [1, 3], "differs"

def test_raises():
    with pytest.raises(ZeroDivisionError):
        1 / 0
    assert 0.1 + 0.2 == pytest.approx(0.3)
'''


def _warm_up() -> None:
    work = tempfile.mkdtemp(prefix="codeloop-zygote-")
    try:
        with open(os.path.join(work, runner.TESTS_FILE), "w") as handle:
            handle.write(WARM_UP_TESTS)
        saved, devnull = os.dup(1), os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        try:
            runner.warm_up(work)
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(devnull)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        sys.modules.pop("test_solution", None)
        os.chdir("/")


def serve(control: socket.socket) -> None:
    """Fork a supervisor per request until the parent goes away."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # supervisors are reaped by the kernel
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, 1 << 16, 8)
        except OSError:
            return
        if not message:
            return
        if len(fds) != 4:
            for fd in fds:
                os.close(fd)
            continue
        if os.fork() == 0:
            control.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            supervise.run(json.loads(message), fds)
        for fd in fds:
            os.close(fd)


def main(control_fd: int) -> None:
    """Warm up, tell the parent we are ready, then serve."""
    control = socket.socket(fileno=control_fd)
    if linux.available():  # this process holds other runs' pipes and nonces: see supervise.py
        linux.prctl(linux.PR_SET_DUMPABLE, 0)
    _warm_up()
    runner.remember_code()
    syscalls.prepare()
    cgroup.memory_root()  # looked up once; every supervisor inherits the answer
    gc.collect()
    gc.freeze()
    control.send(b"ready")
    serve(control)
