"""The verdict from records: nothing short of a complete, signed, clean run is a pass."""

from __future__ import annotations

import json
import signal

import pytest

from codeloop.sandbox import Limits
from codeloop.sandbox.collect import Capped, Gathered, Messages
from codeloop.sandbox.judge import assess
from codeloop.sandbox.records import signed

LIMITS = Limits(wall_seconds=5, cpu_seconds=3)
CLEAN_STATUS = [
    {"kind": "supervisor", "pid": 10},
    {"kind": "isolation", "description": "pid namespace", "work": "/tmp/w"},
    {"kind": "tests_exit", "code": 0},
    {"kind": "exit", "timed_out": False, "code": 0, "cpu_seconds": 0.1},
]


def complete_run(*outcomes: str) -> list[dict]:
    names = [f"test_{n}" for n in range(len(outcomes))]
    records: list[dict] = [{"kind": "collected", "names": names}]
    for name, outcome in zip(names, outcomes, strict=True):
        records += [{"kind": "start", "name": name},
                    {"kind": "test", "name": name, "outcome": outcome, "message": ""}]
    return [*records, {"kind": "finished", "exitstatus": 0, "collected": len(names)}]


def status_with(**changes: object) -> list[dict]:
    return [dict(s, **changes) if s["kind"] == "exit" else s for s in CLEAN_STATUS]


def test_complete_clean_run_passes():
    state, detail, tests = assess(complete_run("passed", "passed"), CLEAN_STATUS, LIMITS)
    assert (state, detail, len(tests)) == ("passed", "", 2)


@pytest.mark.parametrize(("outcomes", "state"), [
    (("passed", "failed"), "failed"),
    (("passed", "error"), "failed"),
    (("skipped", "skipped"), "failed"),
    ((), "error"),
])
def test_failures_skips_and_emptiness_are_not_passes(outcomes, state):
    assert assess(complete_run(*outcomes), CLEAN_STATUS, LIMITS)[0] == state


def test_missing_finished_record_is_an_error():
    records = complete_run("passed")[:-1]
    state, detail, _ = assess(records, CLEAN_STATUS, LIMITS)
    assert state == "error"
    assert "without a complete report" in detail


def test_a_collected_test_without_result_is_an_error():
    records = complete_run("passed")
    records[0]["names"].append("test_vanished")
    state, detail, _ = assess(records, CLEAN_STATUS, LIMITS)
    assert state == "error"
    assert "test_vanished" in detail


def test_nonzero_exit_of_the_test_process_is_an_error_even_with_all_records():
    status = [dict(s, code=1) if s["kind"] == "tests_exit" else s for s in CLEAN_STATUS]
    assert assess(complete_run("passed"), status, LIMITS)[0] == "error"


def test_missing_supervisor_record_is_an_error():
    status = [s for s in CLEAN_STATUS if s["kind"] != "exit"]
    state, detail, _ = assess(complete_run("passed"), status, LIMITS)
    assert state == "error"
    assert "supervisor" in detail


def test_tampering_overrides_passing_results():
    records = [*complete_run("passed"), {"kind": "tamper", "what": ["_pytest.x.y"]}]
    state, detail, _ = assess(records, CLEAN_STATUS, LIMITS)
    assert state == "error"
    assert "_pytest.x.y" in detail


def test_timeout_names_the_test_that_was_running():
    records = [*complete_run("passed")[:-1], {"kind": "start", "name": "test_slow"}]
    state, detail, tests = assess(records, status_with(timed_out=True), LIMITS)
    assert state == "timeout"
    assert "test_slow" in detail
    assert tests[-1].name == "test_slow"
    assert tests[-1].outcome == "error"


def test_timeout_before_collection_says_so():
    state, detail, _ = assess([], status_with(timed_out=True), LIMITS)
    assert state == "timeout"
    assert "collecting" in detail


def test_cpu_limit_signal_is_named():
    status = [dict(s, code=-signal.SIGXCPU) if s["kind"] == "tests_exit" else s
              for s in CLEAN_STATUS]
    records = [{"kind": "collected", "names": ["test_0"]}, {"kind": "start", "name": "test_0"}]
    state, detail, tests = assess(records, status, LIMITS)
    assert state == "error"
    assert "CPU time limit of 3 s" in detail
    assert tests[0].message == detail


def test_setup_error_is_reported():
    status = [{"kind": "setup_error", "message": "OSError: no"}, *CLEAN_STATUS]
    state, detail, _ = assess(complete_run("passed"), status, LIMITS)
    assert state == "error"
    assert "could not be set up" in detail


def gathered_from(*messages: bytes, budget: int = 1 << 20) -> Gathered:
    records = Messages(budget)
    for message in messages:
        records.add(message)
    return Gathered(Capped(10), Capped(10), records, Capped(10))


def test_only_signed_records_count_and_anything_else_is_tampering():
    lines = [{"kind": "test", "name": "a", "nonce": "right"},
             {"kind": "test", "name": "b", "nonce": "wrong"},
             {"kind": "test", "name": "c"}]
    messages = [json.dumps(line).encode() for line in lines] + [b"not json", b"[1]"]
    records = signed(gathered_from(*messages), "right")
    assert [r.get("name") for r in records if r["kind"] == "test"] == ["a"]
    tamper = [r for r in records if r["kind"] == "tamper"]
    assert len(tamper) == 1
    assert "an unsigned record on the result channel (x2)" in tamper[0]["what"]
    assert "an unreadable record on the result channel (x2)" in tamper[0]["what"]


def test_clean_stream_has_no_tamper_record():
    messages = [json.dumps({**r, "nonce": "n"}).encode() for r in complete_run("passed")]
    records = signed(gathered_from(*messages), "n")
    assert records == complete_run("passed")
    assert assess(records, CLEAN_STATUS, LIMITS)[0] == "passed"


def test_capped_stream_keeps_the_head_and_counts_the_rest():
    stream = Capped(10)
    stream.add(b"0123456789abc")
    stream.add(b"\xff" * 5)
    assert stream.data == b"0123456789"
    assert stream.dropped == 8
    assert stream.text().startswith("0123456789\n[... output truncated: 8 more bytes")


def test_non_utf8_output_decodes():
    stream = Capped(100)
    stream.add(b"ok \xff\xfe")
    assert stream.text() == "ok \ufffd\ufffd"
