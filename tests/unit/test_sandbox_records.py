"""The result channel, both ends: the runner's budgeted writer and the parent's strict reader."""

from __future__ import annotations

import json
import os
import socket
import threading
import time

import pytest

from codeloop.sandbox import Limits
from codeloop.sandbox.child import emit as child_emit
from codeloop.sandbox.child.emit import Emitter
from codeloop.sandbox.collect import (
    MAX_RECORD_BYTES,
    Capped,
    Gathered,
    Messages,
    gather,
    parse,
    record_budget,
)
from codeloop.sandbox.judge import assess
from codeloop.sandbox.records import collected_names, signed, well_formed

CLEAN_STATUS = [{"kind": "tests_exit", "code": 0},
                {"kind": "exit", "timed_out": False, "code": 0, "cpu_seconds": 0.1}]


@pytest.mark.parametrize("data", [
    b"[" * 100_000, b'{"a":' * 3000 + b"1" + b"}" * 3000, b"\xff\xfe", b"", b"[1, 2]", b"nul",
])
def test_parse_never_raises_and_returns_objects_only(data):
    assert parse(data) is None


def test_parse_reads_an_object():
    assert parse(b'{"kind": "start", "name": "t"}') == {"kind": "start", "name": "t"}


@pytest.mark.parametrize("record", [
    {"kind": "test", "name": ["x"], "outcome": "passed"},
    {"kind": "collected", "names": [1, 2]},
    {"kind": "finished", "exitstatus": "0"},
    {"kind": "start", "name": "t", "extra": 1},
    {"kind": "unknown"},
    {"kind": ["test"]},
    {"name": "no kind"},
])
def test_records_of_the_wrong_shape_are_malformed(record):
    assert not well_formed(record)


def test_a_signed_but_malformed_record_is_tampering_and_the_judge_does_not_crash():
    messages = [{"kind": "collected", "names": ["test_a"]},
                {"kind": "test", "name": {"deep": [1]}, "outcome": "passed", "message": ""},
                {"kind": "finished", "exitstatus": 0, "collected": 1}]
    gathered = Messages(1 << 20)
    for message in messages:
        gathered.add(json.dumps({**message, "nonce": "n"}).encode())
    records = signed(Gathered(Capped(1), Capped(1), gathered, Capped(1)), "n")
    state, detail, _ = assess(records, CLEAN_STATUS, Limits())
    assert state == "error"
    assert "a malformed record" in detail


def test_a_run_without_a_collected_record_is_an_error():
    records = [{"kind": "test", "name": "test_a", "outcome": "passed", "message": ""},
               {"kind": "finished", "exitstatus": 0, "collected": 1}]
    state, detail, _ = assess(records, CLEAN_STATUS, Limits())
    assert (state, detail) == ("error", "the run never reported which tests it collected")


def test_collected_names_are_the_union_of_every_collected_record():
    records = [{"kind": "collected", "names": ["a", "b"]}, {"kind": "collected", "names": ["c"]}]
    assert collected_names(records) == {"a", "b", "c"}
    assert collected_names([]) is None


def test_messages_beyond_the_budget_or_too_big_are_only_counted():
    kept = Messages(budget=10)
    kept.add(b"12345")
    kept.add(b"123456")
    kept.add(b"x" * MAX_RECORD_BYTES)
    assert (kept.kept, kept.dropped, kept.oversized) == ([b"12345"], 1, 1)


def test_the_record_budget_follows_the_output_cap_with_a_floor():
    assert record_budget(64 << 10) == 256 << 10
    assert record_budget(1 << 20) == 4 << 20


@pytest.fixture
def channel():
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    yield ours, theirs
    ours.close()
    theirs.close()


def received(sock: socket.socket) -> list[dict]:
    sock.setblocking(False)
    found = []
    while True:
        try:
            found.append(json.loads(sock.recv(MAX_RECORD_BYTES)))
        except BlockingIOError:
            return found


def test_the_emitter_signs_each_record_as_one_message(channel):
    ours, theirs = channel
    emit = Emitter(theirs.fileno(), "nonce", 1 << 20)
    emit({"kind": "start", "name": "a"})
    emit({"kind": "start", "name": "b"})
    assert received(ours) == [{"kind": "start", "name": "a", "nonce": "nonce"},
                              {"kind": "start", "name": "b", "nonce": "nonce"}]


def test_the_emitter_shortens_messages_past_half_its_budget(channel):
    ours, theirs = channel
    emit = Emitter(theirs.fileno(), "n", 128 << 10)
    for _ in range(60):
        emit({"kind": "test", "name": "t", "outcome": "failed", "message": "m" * 1200})
    sizes = [len(record["message"]) for record in received(ours)]
    assert sizes[0] == 1200
    assert sizes[-1] == child_emit.SHORT_MESSAGE_CHARS


def test_the_emitter_ends_the_run_with_a_crash_record_when_the_budget_is_spent(channel, monkeypatch):
    ours, theirs = channel
    exits: list[int] = []
    emit = Emitter(theirs.fileno(), "n", 20 << 10)
    monkeypatch.setattr(emit, "_exit", exits.append)
    for _ in range(10):
        emit({"kind": "start", "name": "x" * 1000})
        if exits:
            break
    records = received(ours)
    assert exits == [3]
    assert records[-1]["kind"] == "crash"
    assert "the run stops here" in records[-1]["message"]
    assert sum(len(json.dumps(r)) for r in records) <= 20 << 10


def test_the_emitter_is_silent_in_a_forked_child(channel):
    ours, theirs = channel
    emit = Emitter(theirs.fileno(), "n", 1 << 20)
    pid = os.fork()
    if pid == 0:
        emit({"kind": "start", "name": "child"})
        os._exit(0)
    os.waitpid(pid, 0)
    emit({"kind": "start", "name": "parent"})
    assert [r["name"] for r in received(ours)] == ["parent"]


def test_gather_reads_messages_whole_and_drops_the_flood(channel):
    ours, theirs = channel

    def flood() -> None:
        for _ in range(300):
            theirs.send(b"x" * 1000)
        theirs.close()

    writer = threading.Thread(target=flood)
    writer.start()
    status_read, status_write = os.pipe()
    os.close(status_write)
    out_read, out_write = os.pipe()
    os.close(out_write)
    err_read, err_write = os.pipe()
    os.close(err_write)
    gathered = gather({"stdout": out_read, "stderr": err_read, "records": ours.detach(),
                       "status": status_read}, 64 << 10, deadline=time.monotonic() + 30)
    writer.join()
    assert len(gathered.records.kept) == (256 << 10) // 1000
    assert gathered.records.dropped == 300 - len(gathered.records.kept)
    assert all(len(message) == 1000 for message in gathered.records.kept)
