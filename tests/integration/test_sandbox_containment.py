"""Tries to break out of the sandbox: time, processes, resources, filesystem, network, secrets.

Each test runs real generated-style code in the real sandbox and then checks, from the
host's side, that nothing escaped. Where the sandboxed test itself asserts (for example
that a read is refused), the run's status "passed" is the proof that it was refused.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from codeloop.sandbox import Limits, TestReport, run_sandboxed

pytestmark = pytest.mark.integration

PROJECT = Path(__file__).resolve().parents[2]


def run(tests: str, code: str = "", **limits: object) -> TestReport:
    return run_sandboxed(code, "import os, sys, time, pytest\n" + tests, Limits(**limits))


def processes_with(marker: str) -> list[str]:
    """Host pids whose command line contains `marker` (what survived a run)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline and int(pid) != os.getpid():
            found.append(pid)
    return found


def spawn_lingering(marker: str) -> str:
    """Sandboxed code that leaves a plain child and a double-forked, setsid'd daemon behind."""
    return f"""
import subprocess
def leave_children():
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1000)", "{marker}"])
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(1000)",
                                      "{marker}-daemon"])
        os._exit(0)
    time.sleep(0.2)
"""


# --- time ----------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["while True:\n        pass", "time.sleep(10**6)"])
def test_endless_test_is_killed_at_the_wall_clock_limit(body):
    started = time.monotonic()
    report = run(f"def test_forever():\n    {body}\n", wall_seconds=1.5)
    assert report.status == "timeout"
    assert "test_forever" in report.detail
    assert [(t.name, t.outcome) for t in report.tests] == [("test_forever", "error")]
    assert time.monotonic() - started < 6


def test_no_process_survives_a_timed_out_run():
    marker = f"codeloop-linger-{uuid.uuid4().hex}"
    hang = "\ndef test_hang():\n    leave_children()\n    time.sleep(60)\n"
    tests = spawn_lingering(marker) + hang
    report = run(tests, wall_seconds=2)
    assert report.status == "timeout"
    time.sleep(0.2)
    assert processes_with(marker) == []


def test_no_process_survives_a_run_that_passed():
    marker = f"codeloop-linger-{uuid.uuid4().hex}"
    report = run(spawn_lingering(marker) + "\ndef test_ok():\n    leave_children()\n")
    assert report.status == "passed", report.detail
    assert "pid namespace" in report.isolation
    time.sleep(0.2)
    assert processes_with(marker) == []


def test_process_group_is_killed_even_with_isolation_off():
    marker = f"codeloop-linger-{uuid.uuid4().hex}"
    tests = f"""
import subprocess
def test_child():
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1000)", "{marker}"])
"""
    report = run(tests, isolate=False)
    assert report.status == "passed", report.detail
    time.sleep(0.2)
    assert processes_with(marker) == []


# --- CPU, memory, processes, files ---------------------------------------------------------


def test_cpu_time_limit_ends_the_run_with_the_reason():
    spin = "def test_spin():\n    while True:\n        pass\n"
    report = run(spin, cpu_seconds=1, wall_seconds=20)
    assert report.status == "error"
    assert "CPU time limit" in report.detail
    assert report.cpu_seconds >= 0.9


def test_ten_gib_allocation_fails_with_memory_error():
    report = run("def test_big():\n    block = bytearray(10 * 2**30)\n    assert block\n")
    assert report.status == "failed"
    assert "MemoryError" in report.tests[0].message


def test_many_processes_share_one_memory_ceiling():
    if "memory cgroup" not in run("def test_probe():\n    pass\n").isolation:
        pytest.skip("no memory cgroup on this host: each process is limited on its own")
    tests = """
def test_many():
    kids = []
    for _ in range(4):
        pid = os.fork()
        if pid == 0:
            block = bytearray(900 * 2**20)
            for i in range(0, len(block), 4096):
                block[i] = 1
            os._exit(0)
        kids.append(pid)
    assert [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in kids] == [0] * 4
"""
    report = run(tests, wall_seconds=30)
    assert report.status == "failed"
    assert "memory limit" in report.detail
    assert "-9" in report.tests[0].message  # SIGKILLed by the kernel, not by the code


def test_fork_bomb_is_contained_and_the_host_is_unaffected():
    tests = "def test_bomb():\n    while True:\n        os.fork()\n"
    started = time.monotonic()
    report = run(tests, wall_seconds=10)
    assert report.status == "failed", report.detail
    assert "Resource temporarily unavailable" in report.tests[0].message
    assert time.monotonic() - started < 8
    assert subprocess.run(["true"], check=False).returncode == 0


def test_five_gib_file_is_refused_at_the_file_size_limit():
    tests = """
def test_write():
    chunk = b"x" * (1 << 20)
    with open("big.bin", "wb") as handle:
        for _ in range(5 * 1024):
            handle.write(chunk)
"""
    report = run(tests)
    assert report.status == "failed"
    assert "File too large" in report.tests[0].message


def test_many_files_cannot_fill_the_disk():
    tests = """
def test_fill():
    chunk = b"x" * (1 << 20)
    for n in range(40):
        with open(f"part{n}.bin", "wb") as handle:
            for _ in range(60):
                handle.write(chunk)
"""
    report = run(tests, disk_bytes=128 << 20)
    assert report.status == "failed"
    assert "No space left on device" in report.tests[0].message


def test_open_files_are_limited():
    tests = "def test_fds():\n    keep = [open(os.devnull) for _ in range(10_000)]\n"
    report = run(tests, open_files=64)
    assert report.status == "failed"
    assert "Too many open files" in report.tests[0].message


# --- filesystem ------------------------------------------------------------------------------


def test_writes_outside_the_work_directory_do_not_reach_the_host(tmp_path):
    home_target = Path.home() / f"codeloop-escape-{uuid.uuid4().hex}"
    project_target = PROJECT / f"codeloop-escape-{uuid.uuid4().hex}"
    tmp_target = Path("/tmp") / f"elsewhere-{uuid.uuid4().hex}"
    tests = f"""
def try_write(path):
    try:
        with open(path, "w") as handle:
            handle.write("escaped")
    except OSError:
        pass

def test_escape():
    for path in ({str(home_target)!r}, {str(project_target)!r}, {str(tmp_target)!r}):
        try_write(path)
    print(os.getcwd())
"""
    report = run(tests)
    assert report.status == "passed", report.detail
    assert not home_target.exists()
    assert not project_target.exists()
    assert not tmp_target.exists()
    work = report.stdout.strip().splitlines()[-1]
    assert not Path(work).exists()  # the work directory is gone after the run


def test_reads_of_the_users_files_are_refused(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("user data")
    paths = [str(secret), str(PROJECT / "README.md"), str(Path.home() / ".bashrc"), "/etc/shadow"]
    tests = f"""
@pytest.mark.parametrize("path", {paths!r})
def test_unreadable(path):
    with pytest.raises(OSError):
        open(path).read()
"""
    report = run(tests)
    assert report.status == "passed", (report.detail, report.tests)
    assert "private read-only root" in report.isolation
    assert "uid " in report.isolation


def test_the_system_is_read_only_inside():
    tests = """
def test_readonly():
    for path in ("/usr/codeloop-x", "/etc/codeloop-x", sys.prefix + "/codeloop-x"):
        with pytest.raises(OSError):
            open(path, "w")
"""
    report = run(tests)
    assert report.status == "passed", (report.detail, report.tests)


# --- network ----------------------------------------------------------------------------------


@pytest.fixture
def local_server():
    """A TCP server on 127.0.0.1 that records whether anyone connected."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    accepted: list[object] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                accepted.append(server.accept())
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], accepted
    stop.set()
    thread.join()
    server.close()


@pytest.mark.parametrize("isolate", [True, False])
def test_local_server_is_unreachable(local_server, isolate):
    port, accepted = local_server
    tests = f"""
import socket
def test_connect():
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", {port}), timeout=2)
"""
    report = run(tests, isolate=isolate)
    assert report.status == "passed", (report.detail, report.tests)
    assert accepted == []
    if isolate:
        assert "network namespace" in report.isolation
    else:
        assert "network, filesystem and processes NOT isolated" in report.isolation


def test_the_codes_own_local_server_still_works():
    tests = """
import socket, threading
def test_echo():
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    threading.Thread(target=lambda: server.accept()[0].sendall(b"hi"), daemon=True).start()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        assert client.recv(2) == b"hi"
"""
    report = run(tests)
    assert report.status == "passed", (report.detail, report.tests)


# --- secrets ----------------------------------------------------------------------------------


SECRETS = {"HF_TOKEN": "hf_s3cr3t", "LANGSMITH_API_KEY": "ls_s3cr3t",
           "AWS_SECRET_ACCESS_KEY": "aws_s3cr3t", "OPENAI_API_KEY": "sk-s3cr3t",
           "MY_SERVICE_SECRET": "svc_s3cr3t", "GITHUB_TOKEN": "ghp_s3cr3t"}

LOOK_FOR_SECRETS = f"""
import glob, os, subprocess
VALUES = {list(SECRETS.values())!r}

def test_environment_is_clean():
    seen = " ".join(os.environ.values())
    seen += subprocess.run(["env"], capture_output=True, text=True).stdout
    for path in glob.glob("/proc/*/environ"):
        try:
            seen += open(path, "rb").read().decode(errors="replace")
        except OSError:
            pass
    assert not [v for v in VALUES if v in seen]
    assert not [k for k in os.environ if k.endswith(("_KEY", "_TOKEN", "_SECRET"))]
"""

# A codeloop process that started with the secrets in its environment (so they are in its
# /proc/PID/environ, which a monkeypatched os.environ never is) runs the search above.
SEARCH_FROM_A_PARENT_WITH_SECRETS = """
import ctypes, json, sys
from codeloop.sandbox import run_sandboxed
report = run_sandboxed("", sys.stdin.read())
dumpable = ctypes.CDLL(None).prctl(3, 0, 0, 0, 0)  # PR_GET_DUMPABLE
print(json.dumps({"status": report.status, "detail": report.detail, "dumpable": dumpable}))
"""


@pytest.mark.parametrize("strategy", ["auto", "none"])
def test_secrets_never_reach_the_code(strategy):
    env = {**os.environ, **SECRETS, "CODELOOP_SANDBOX_STRATEGY": strategy}
    done = subprocess.run([sys.executable, "-c", SEARCH_FROM_A_PARENT_WITH_SECRETS],
                          input=LOOK_FOR_SECRETS, env=env, capture_output=True, text=True,
                          timeout=120, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["dumpable"] == 0  # the parent's /proc files belong to root from now on
    if strategy == "auto" or os.getuid() != 0:  # unconfined root reads every process's files
        assert result["status"] == "passed", result


# --- output ------------------------------------------------------------------------------------


def test_hundred_megabytes_of_output_are_capped_with_a_marker():
    tests = """
def test_flood():
    line = "x" * 1_000_000
    for _ in range(100):
        sys.stdout.write(line)
        sys.stderr.write(line)
"""
    report = run(tests, wall_seconds=60)
    assert report.status == "passed", report.detail
    for text in (report.stdout, report.stderr):
        assert len(text.encode()) < (64 << 10) + 200
        assert "output truncated" in text
        assert text.startswith("x" * 1000)


def test_non_utf8_output_is_reported_cleanly():
    tests = (
        'def test_bytes():\n    os.write(1, b"\\xff\\xfe bad \\x80 bytes\\n")\n'
        '    assert False, "\\udcff"\n'
    )
    report = run(tests)
    assert report.status == "failed"
    assert "bad" in report.stdout
    report.model_dump_json()
    report.as_state()["tests"][0]["message"].encode("utf-8")


# --- degraded platforms ---------------------------------------------------------------------


def escape_attempts(secret: Path, outside: Path, port: int) -> str:
    return f"""
import socket
def test_contained():
    with pytest.raises(OSError):
        open({str(secret)!r}).read()
    try:
        open({str(outside)!r}, "w").write("escaped")
    except OSError:
        pass
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", {port}), timeout=2)
"""


def test_unprivileged_user_namespace_path_contains_the_same_way(monkeypatch, tmp_path,
                                                                local_server):
    """The path an ordinary user gets (forced here, since this machine runs as root)."""
    monkeypatch.setenv("CODELOOP_SANDBOX_STRATEGY", "userns")
    port, accepted = local_server
    secret, outside = tmp_path / "secret.txt", Path("/tmp") / f"elsewhere-{uuid.uuid4().hex}"
    secret.write_text("user data")
    marker = f"codeloop-linger-{uuid.uuid4().hex}"
    tests = spawn_lingering(marker) + escape_attempts(secret, outside, port) + (
        "    leave_children()\n")
    report = run(tests)
    assert report.status == "passed", (report.detail, report.tests)
    for layer in ("user namespace", "pid namespace", "network namespace", "mount namespace",
                  "private read-only root", "no capabilities"):
        assert layer in report.isolation
    assert not outside.exists()
    assert accepted == []
    time.sleep(0.2)
    assert processes_with(marker) == []


def test_without_namespaces_the_run_works_and_says_what_is_missing(monkeypatch, tmp_path,
                                                                    local_server):
    """Where no namespaces exist, the audit hook still refuses Python-level escapes."""
    monkeypatch.setenv("CODELOOP_SANDBOX_STRATEGY", "none")
    port, accepted = local_server
    outside = Path("/tmp") / f"elsewhere-{uuid.uuid4().hex}"
    marker = f"codeloop-linger-{uuid.uuid4().hex}"
    tests = spawn_lingering(marker) + f"""
import socket
def test_refused():
    with pytest.raises(PermissionError):
        open({str(outside)!r}, "w")
    with pytest.raises(PermissionError):
        socket.create_connection(("127.0.0.1", {port}), timeout=2)
    leave_children()
"""
    report = run(tests)
    assert report.status == "passed", (report.detail, report.tests)
    assert "network, filesystem and processes NOT isolated" in report.isolation
    assert not outside.exists()
    assert accepted == []
    time.sleep(0.2)
    survivors = processes_with(marker)
    if "memory cgroup" in report.isolation:  # its member list reaches even setsid daemons
        assert survivors == []
    else:  # the process group is killed; a setsid daemon can escape it
        daemons = processes_with(f"{marker}-daemon")
        for pid in survivors:
            os.kill(int(pid), 9)
        assert sorted(survivors) == sorted(daemons)
