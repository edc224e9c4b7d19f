"""Attacks on the verdict from the solution file, under every isolation strategy: none may pass.

Each class of issue 14 is tried from inside the sandbox, against tests that must fail:
code swapped in place, trace and profile hooks, junk on the result channel, names
shadowed through `from solution import *`, objects that equal everything, nonce theft
through /proc, a judge crashed by nested JSON, and the system calls the seccomp filter
denies. Every test runs under the root strategy (`auto` here), `userns` and `none`; the
sandbox must always return a report, never raise.
"""

from __future__ import annotations

import json
import platform
import time
import tracemalloc

import pytest

from codeloop.evals.humaneval import Problem, load_problems, score
from codeloop.nodes.checks import checks_in, run_checks
from codeloop.sandbox import Call, CallReport, Limits, TestReport, call_sandboxed, run_sandboxed

pytestmark = pytest.mark.integration

STRATEGIES = ("auto", "userns", "none")
FAILING_TESTS = """
from solution import *

def test_truth():
    assert 1 == 2, "this test must fail"

def test_other():
    assert "real" == "fake"
"""
LIMITS = Limits(wall_seconds=20)


@pytest.fixture(params=STRATEGIES, autouse=True)
def strategy(request, monkeypatch) -> str:
    """Run every test under each isolation strategy this machine has."""
    monkeypatch.setenv("CODELOOP_SANDBOX_STRATEGY", request.param)
    return str(request.param)


def run(code: str, tests: str = FAILING_TESTS) -> TestReport:
    return run_sandboxed(code, tests, LIMITS)


def assert_not_passed(report: TestReport, *reasons: str) -> None:
    assert report.status in ("failed", "error"), (report.status, report.detail, report.tests)
    for reason in reasons:
        assert reason in report.detail, (reason, report.detail)


# --- code swapped in place --------------------------------------------------------------

CODE_SWAPS = {
    "pytest's Function.runtest": (
        "import _pytest.python\n"
        "_pytest.python.Function.runtest.__code__ = (lambda self: None).__code__\n"),
    "pytest's call_and_report": (
        "import types, _pytest.runner as r\n"
        "o = r.call_and_report\n"
        "r._copy = types.FunctionType(o.__code__, o.__globals__, 'copy', o.__defaults__)\n"
        "r._copy.__kwdefaults__ = o.__kwdefaults__\n"
        "def fake(item, when, log=True, **kwds):\n"
        "    report = _copy(item, when, log=False, **kwds)\n"
        "    report.outcome = 'passed'\n"
        "    if log:\n"
        "        item.ihook.pytest_runtest_logreport(report=report)\n"
        "    return report\n"
        "o.__code__ = fake.__code__\n"),
    "the sandbox runner's outcome function": (
        "import sys\n"
        "runner = sys.modules['_codeloop_sandbox_child.runner']\n"
        "runner._outcome.__code__ = (lambda report: 'passed').__code__\n"),
    "the sandbox runner's record writer": (
        "import sys\n"
        "emit = sys.modules['_codeloop_sandbox_child.emit']\n"
        "def quiet(self, record):\n"
        "    if record.get('kind') == 'test':\n"
        "        record['outcome'] = 'passed'\n"
        "    if record.get('kind') != 'tamper':\n"
        "        self._send(self._encode({**record, 'nonce': self._nonce}))\n"
        "emit.Emitter.__call__.__code__ = quiet.__code__\n"),
}


@pytest.mark.parametrize("swap", CODE_SWAPS.values(), ids=CODE_SWAPS.keys())
def test_code_swapped_into_the_runner_is_tampering(swap):
    assert_not_passed(run(swap), "tampered")


# --- trace and profile hooks ------------------------------------------------------------

HOOK = """
import sys

def hook(frame, event, arg):
    if event == "return" and frame.f_code.co_name == "<module>" and \\
            frame.f_code.co_filename.endswith("test_solution.py"):
        names = [n for n in frame.f_globals if n.startswith("test_")]
        for name in names[:1]:
            frame.f_globals[name].__code__ = (lambda: None).__code__
        for name in names[1:]:
            frame.f_globals[name] = lambda: None
        sys.{setter}(None)
    return hook

sys.{setter}(hook)
"""


@pytest.mark.parametrize("setter", ["setprofile", "settrace"])
def test_a_hook_that_empties_the_tests_once_they_load_is_tampering(setter):
    report = run(HOOK.replace("{setter}", setter))
    assert_not_passed(report, "tampered")
    assert f"sys.{setter}" in report.detail


def test_a_hook_left_for_new_threads_is_tampering():
    report = run("import threading\nthreading.setprofile(lambda *args: None)\n")
    assert_not_passed(report, "threading.setprofile")


# --- junk on the result channel --------------------------------------------------------

JUNK = {
    "unparseable": b"garbage",
    "unsigned": json.dumps({"kind": "test", "name": "test_truth", "outcome": "passed"}).encode(),
    "deeply nested": b"[" * 30_000,
    "deeply nested object": b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
    "oversized": b"x" * 100_000,
    "half a record, to swallow the next one": b'{"kind": "pad", "x": "',
}


@pytest.mark.parametrize("junk", JUNK.values(), ids=JUNK.keys())
def test_junk_on_the_record_socket_is_tampering_and_never_raises(junk):
    report = run(f"import os\nos.write(3, {junk!r})\n")
    assert_not_passed(report, "on the result channel")


def test_an_empty_message_ends_the_records_and_the_run_is_incomplete():
    assert_not_passed(run("import os\nos.write(3, b'')\n"))


def test_a_flood_of_records_costs_the_parent_little():
    code = ("import os\nrecord = b'{\"kind\": \"start\", \"name\": \"x\"}'.ljust(1024)\n"
            "for _ in range(8192):\n    os.write(3, record)\n")
    tracemalloc.start()
    started = time.monotonic()
    try:
        report = run(code)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert_not_passed(report, "on the result channel")
    assert peak < 32 << 20, f"the parent held {peak >> 20} MiB for 8 MiB of records"
    assert time.monotonic() - started < LIMITS.wall_seconds


def test_junk_on_the_socket_of_a_run_of_calls_is_an_error_not_an_exception():
    report = call_sandboxed("import os\nos.write(3, b'[' * 30000)\ndef f():\n    return 1\n",
                            [Call(name="c", call="f()")], LIMITS)
    assert isinstance(report, CallReport)
    assert report.status == "error"
    assert "on the result channel" in report.detail


# --- nonce theft through /proc ----------------------------------------------------------

NONCE_THEFT = """
import json, os, threading
try:
    reader = os.open("/proc/self/fd/3", os.O_RDONLY)
except OSError as exc:
    print("reopen refused:", exc.errno)
else:
    def forge():
        nonce = json.loads(os.read(reader, 65536).split(b"\\n")[0])["nonce"]
        names = ["test_truth", "test_other"]
        records = [{"kind": "collected", "names": names},
                   *[{"kind": "test", "name": n, "outcome": "passed", "message": ""}
                     for n in names],
                   {"kind": "finished", "exitstatus": 0, "collected": 2}]
        for record in records:
            os.write(3, (json.dumps({**record, "nonce": nonce}) + "\\n").encode())
        os._exit(0)
    threading.Thread(target=forge, daemon=True).start()
"""


def test_the_record_channel_cannot_be_reopened_to_read_the_nonce():
    report = run(NONCE_THEFT)
    assert_not_passed(report)
    assert "reopen refused" in report.stdout, report.stdout


STATUS_FORGERY = """
import json, os, sys

def parent_of(pid):
    with open(f"/proc/{pid}/status") as status:
        return int(next(l.split()[1] for l in status if l.startswith("PPid:")))

exit_record = json.dumps({"kind": "exit", "timed_out": False, "code": 0, "cpu_seconds": 0.1,
                          "max_rss_kib": 1, "oom_kills": 0}) + "\\n"
opened, pid = 0, int(sys.argv[1])
for _ in range(3):  # init, the supervisor, the zygote: whichever can be seen from here
    pid = parent_of(pid)
    if pid <= 1:
        break
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        continue
    for fd in fds:
        try:
            target = os.open(f"/proc/{pid}/fd/{fd}", os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            continue
        opened += 1
        os.write(target, exit_record.encode())
print("opened", opened)
"""


def test_the_supervisors_status_pipe_cannot_be_reached_from_the_tests():
    """The scan runs in a fresh interpreter: no audit hook there, only the OS says no."""
    code = ("import os, subprocess, sys\n"
            f"subprocess.run([sys.executable, '-I', '-c', {STATUS_FORGERY!r}, str(os.getpid())])\n")
    report = run(code)
    assert_not_passed(report)
    assert "opened 0" in report.stdout, report.stdout


# --- names shadowed through `from solution import *` -----------------------------------

SHADOWING = {
    "AssertionError made a skip": (
        "import pytest\n\ndef double(x):\n    return 2 * x\n\n"
        "AssertionError = pytest.skip.Exception\n",
        "from solution import *\n\ndef test_right():\n    assert double(2) == 4\n\n"
        "def test_wrong():\n    assert double(3) == 7\n"),
    "ValueError made to catch anything": (
        "ValueError = BaseException\n\ndef parse(text):\n    raise TypeError(text)\n",
        "import pytest\nfrom solution import *\n\ndef test_parse():\n"
        "    with pytest.raises(ValueError):\n        parse('x')\n"),
    "sorted made to agree": (
        "def my_sort(items):\n    return items\n\ndef sorted(items):\n    return items\n",
        "from solution import *\n\ndef test_sort():\n    assert my_sort([3, 1]) == sorted([3, 1])\n"),
    "pytest made lenient": (
        "import contextlib\n\nclass pytest:\n    @staticmethod\n    def raises(*args):\n"
        "        return contextlib.suppress(BaseException)\n\ndef parse(text):\n    return 1\n",
        "import pytest\nfrom solution import *\n\ndef test_parse():\n"
        "    with pytest.raises(ValueError):\n        parse('x')\n"),
}


@pytest.mark.parametrize(("code", "tests"), SHADOWING.values(), ids=SHADOWING.keys())
def test_a_name_the_solution_shadows_is_refused(code, tests):
    assert_not_passed(run(code, tests), "shadows")


def test_a_builtin_the_tests_use_replaced_directly_is_tampering():
    code = "import builtins\n\ndef my_sort(items):\n    return items\n\nbuiltins.sorted = my_sort\n"
    tests = "from solution import my_sort\n\ndef test_sort():\n    assert my_sort([3, 1]) == sorted([3, 1])\n"
    assert_not_passed(run(code, tests), "builtins.sorted")


def test_a_name_imported_from_the_solution_by_name_is_allowed():
    code = "def max(items):\n    return sorted(items)[-1]\n"
    report = run(code, "from solution import max\n\ndef test_max():\n    assert max([1, 3]) == 3\n")
    assert report.status == "passed", report.detail


# --- objects that equal everything ------------------------------------------------------

ALWAYS_EQUAL = """
class Anything:
    def __eq__(self, other):
        return True
    __hash__ = object.__hash__

class Number(int):
    def __eq__(self, other):
        return True
    __hash__ = int.__hash__

def add(a, b):
    return Anything()

def has_close_elements(numbers, threshold):
    return Number(0)
"""


def test_an_equality_assert_judged_outside_is_not_fooled():
    checks = checks_in("def test_add():\n    assert add(2, 3) == 5\n", "user")
    judged = run_checks(ALWAYS_EQUAL, checks, LIMITS)
    assert [check["outcome"] for check in judged] == ["error"]
    assert "not plain data" in judged[0]["actual"]


def test_a_hidden_benchmark_check_is_not_fooled():
    problem = Problem("own/1", "def add(a, b):\n    pass\n", "add",
                      "def check(candidate):\n    assert candidate(2, 3) == 5\n")
    report = score(problem, ALWAYS_EQUAL)
    assert_not_passed(report)
    assert report.tests[0].judged_in_process is False


def test_a_humaneval_check_is_not_fooled_by_an_int_subclass():
    report = score(load_problems(0, 1)[0], ALWAYS_EQUAL)
    assert_not_passed(report, "judged outside the tested process")


# --- the system calls the filter denies -------------------------------------------------

SYSCALL_PROBE = """
import ctypes, errno, socket
libc = ctypes.CDLL(None, use_errno=True)
def outcome(result):
    return "allowed" if result >= 0 else errno.errorcode[ctypes.get_errno()]
print("unshare-user", outcome(libc.unshare(0x10000000)))
print("add_key", outcome(libc.syscall(ADD_KEY, b"user", b"codeloop", b"x", 1, -2)))
print("ptrace", outcome(libc.ptrace(0, 0, 0, 0)))
try:
    socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
    print("netlink allowed")
except OSError as exc:
    print("netlink", errno.errorcode[exc.errno])
"""
ADD_KEY = {"x86_64": 248, "aarch64": 217}


@pytest.mark.skipif(platform.machine() not in ADD_KEY, reason="syscall numbers for this machine")
def test_the_syscall_filter_denies_namespaces_keyrings_ptrace_and_netlink():
    probe = SYSCALL_PROBE.replace("ADD_KEY", str(ADD_KEY[platform.machine()]))
    code = ("import subprocess, sys\n"
            f"RESULT = subprocess.run([sys.executable, '-I', '-c', {probe!r}],\n"
            "                        capture_output=True, text=True).stdout\n")
    tests = ("from solution import RESULT\n\ndef test_denied():\n"
             "    assert RESULT.split() == ['unshare-user', 'EPERM', 'add_key', 'EPERM',\n"
             "                              'ptrace', 'EPERM', 'netlink', 'EPERM'], RESULT\n")
    report = run(code, tests)
    assert "syscall filter" in report.isolation
    assert report.status == "passed", (report.detail, report.tests)


def test_ctypes_in_the_tested_process_is_flagged():
    code = "import ctypes\nctypes.CDLL(None).getpid()\n"
    assert_not_passed(run(code), "ctypes")


# --- honest runs still pass -------------------------------------------------------------


def test_an_honest_run_with_threads_mocks_and_decorators_still_passes():
    code = "def add(a, b):\n    return a + b\n"
    tests = '''
import functools, threading
from unittest import mock
import pytest
from solution import *

def twice(test):
    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        test(*args, **kwargs)
        test(*args, **kwargs)
    return wrapper

@twice
def test_add():
    assert add(2, 3) == 5

@mock.patch("builtins.print")
def test_patched(printed):
    print("x")
    assert printed.called

@pytest.mark.parametrize("n", [1, 2])
def test_thread(n):
    box = []
    worker = threading.Thread(target=lambda: box.append(add(n, n)))
    worker.start()
    worker.join()
    assert box == [2 * n]
'''
    report = run(code, tests)
    assert report.status == "passed", (report.detail, report.tests)
    assert all(test.judged_in_process for test in report.tests)


def test_nothing_the_code_writes_can_be_run_as_machine_code(strategy):
    """A C extension it compiled could edit the runner's memory unseen: /tmp is noexec."""
    if strategy == "none":
        pytest.skip("without a mount namespace the work directory is the host's")
    tests = '''
import os, shutil, subprocess, pytest

def test_copied_binary_does_not_run():
    shutil.copy("/bin/true", "true")
    os.chmod("true", 0o755)
    with pytest.raises(PermissionError):
        subprocess.run(["./true"])
'''
    report = run("", tests)
    assert report.status == "passed", (report.detail, report.tests)
    assert "noexec /tmp" in report.isolation
