"""Read a run's output pipes and record socket at once, without threads, in bounded memory.

stdout and stderr keep their first `output_bytes` and count the rest, so 100 MB of
printing costs the parent 64 KiB. The records arrive on a SOCK_SEQPACKET socket, one
message per record: the messages are kept whole up to a total budget (see
`record_budget`), and anything past it, or any message of `MAX_RECORD_BYTES` or more,
is only counted, so a flood of records cannot cost the parent more than the budget.
Reading stops when the supervisor's status pipe closes (plus a short grace for the
others), or at a backstop deadline, at which the caller kills the supervisor.

Nothing read here is believed yet: `parse` turns a line or message into a dict or None,
and never raises, whatever the bytes (deeply nested JSON included).
"""

from __future__ import annotations

import json
import os
import selectors
import time
from dataclasses import dataclass, field
from typing import Any

CHUNK = 1 << 16
# A record the runner writes is at most this big (see child/runner.py, Emitter).
MAX_RECORD_BYTES = 32 << 10
STATUS_BYTES = 1 << 16
GRACE_SECONDS = 0.5
_RECORD_FLOOR = 256 << 10


def record_budget(output_bytes: int) -> int:
    """How many bytes of records a run may send: a few times the output cap, at least 256 KiB.

    The runner keeps within it (shortening failure messages first); more than this on
    the socket means something else wrote to it.
    """
    return max(_RECORD_FLOOR, 4 * output_bytes)


@dataclass
class Capped:
    """The head of a stream, and how many bytes after it were dropped."""

    cap: int
    data: bytearray = field(default_factory=bytearray)
    dropped: int = 0

    def add(self, chunk: bytes) -> None:
        """Keep what fits under the cap, count the rest."""
        room = max(0, self.cap - len(self.data))
        self.data += chunk[:room]
        self.dropped += len(chunk) - min(room, len(chunk))

    def text(self) -> str:
        """Decode leniently (the code may print any bytes), with a marker if truncated."""
        text = self.data.decode("utf-8", errors="replace")
        if self.dropped:
            text += f"\n[... output truncated: {self.dropped} more bytes not kept]"
        return text

    def lines(self) -> list[dict[str, Any]]:
        """The JSON objects among the stream's lines (anything else is left out)."""
        parsed = (parse(line) for line in bytes(self.data).splitlines())
        return [value for value in parsed if value is not None]


@dataclass
class Messages:
    """Whole messages up to a byte budget; what came beyond it, or too big, only counted."""

    budget: int
    kept: list[bytes] = field(default_factory=list)
    size: int = 0
    dropped: int = 0
    oversized: int = 0

    def add(self, message: bytes) -> None:
        """Keep one message if it is small enough and fits the budget, else count it."""
        if len(message) >= MAX_RECORD_BYTES:
            self.oversized += 1
        elif self.size + len(message) > self.budget:
            self.dropped += 1
        else:
            self.kept.append(message)
            self.size += len(message)


@dataclass
class Gathered:
    """Everything a run sent back: output heads, record messages, supervisor status."""

    stdout: Capped
    stderr: Capped
    records: Messages
    status: Capped
    complete: bool = True


def parse(data: bytes) -> dict[str, Any] | None:
    """One JSON object from a line or message; None for anything else, and never an exception.

    A deeply nested value raises RecursionError in json; it counts as unreadable like
    any other malformed input.
    """
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def gather(fds: dict[str, int], output_bytes: int, deadline: float) -> Gathered:
    """Read `fds` (stdout, stderr and status pipes, records socket) until done; closes them."""
    caps = {"stdout": output_bytes, "stderr": output_bytes, "status": STATUS_BYTES}
    streams = {name: Capped(cap) for name, cap in caps.items()}
    records = Messages(record_budget(output_bytes))
    selector = selectors.DefaultSelector()
    for name, fd in fds.items():
        os.set_blocking(fd, False)
        selector.register(fd, selectors.EVENT_READ, name)
    try:
        complete = _pump(selector, streams, records, deadline)
    finally:
        for fd in fds.values():
            os.close(fd)
        selector.close()
    return Gathered(streams["stdout"], streams["stderr"], records, streams["status"], complete)


def _pump(
    selector: selectors.BaseSelector, streams: dict[str, Capped], records: Messages,
    deadline: float,
) -> bool:
    """Read until the streams close; False if the supervisor missed the deadline.

    On the records socket each read is one message (a bigger one is cut at the buffer's
    size, and counted as oversized). An empty message cannot be told from the end of
    the stream, so either ends the reading of records: the runner never sends one.
    """
    status_done = False
    while selector.get_map():
        timeout = deadline - time.monotonic()
        if timeout <= 0:
            return status_done
        for key, _ in selector.select(timeout):
            size = MAX_RECORD_BYTES if key.data == "records" else CHUNK
            try:
                chunk = os.read(key.fd, size)
            except BlockingIOError:
                continue
            if chunk:
                if key.data == "records":
                    records.add(chunk)
                else:
                    streams[key.data].add(chunk)
                continue
            selector.unregister(key.fd)
            if key.data == "status":
                status_done = True
                deadline = min(deadline, time.monotonic() + GRACE_SECONDS)
    return True
