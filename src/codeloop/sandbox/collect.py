"""Read a run's four pipes at once, without threads, keeping bounded amounts of each.

stdout and stderr keep their first `output_bytes` and count the rest, so 100 MB of
printing costs the parent 64 KiB; the record pipe is capped too. Reading stops when the
supervisor's status pipe closes (plus a short grace for the others), or at a backstop
deadline, at which the caller kills the supervisor.
"""

from __future__ import annotations

import json
import os
import selectors
import time
from dataclasses import dataclass, field
from typing import Any

CHUNK = 1 << 16
RECORD_BYTES = 8 << 20
GRACE_SECONDS = 0.5


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


@dataclass
class Gathered:
    """Everything a run sent back: output heads, signed records, supervisor status."""

    stdout: Capped
    stderr: Capped
    records: Capped
    status: Capped
    complete: bool = True

    def lines(self, stream: Capped) -> list[dict[str, Any]]:
        """Parse the JSON objects among the stream's lines (anything else is ignored)."""
        found = []
        for line in bytes(stream.data).splitlines():
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                found.append(value)
        return found


def gather(fds: dict[str, int], output_bytes: int, deadline: float) -> Gathered:
    """Read the read ends in `fds` (stdout, stderr, records, status) until done; closes them."""
    caps = {"stdout": output_bytes, "stderr": output_bytes, "records": RECORD_BYTES,
            "status": 1 << 16}
    streams = {name: Capped(cap) for name, cap in caps.items()}
    selector = selectors.DefaultSelector()
    for name, fd in fds.items():
        os.set_blocking(fd, False)
        selector.register(fd, selectors.EVENT_READ, name)
    try:
        complete = _pump(selector, streams, deadline)
    finally:
        for fd in fds.values():
            os.close(fd)
        selector.close()
    return Gathered(streams["stdout"], streams["stderr"], streams["records"], streams["status"],
                    complete)


def _pump(selector: selectors.BaseSelector, streams: dict[str, Capped], deadline: float) -> bool:
    """Read until the streams close; False if the supervisor missed the deadline."""
    status_done = False
    while selector.get_map():
        timeout = deadline - time.monotonic()
        if timeout <= 0:
            return status_done
        for key, _ in selector.select(timeout):
            try:
                chunk = os.read(key.fd, CHUNK)
            except BlockingIOError:
                continue
            if chunk:
                streams[key.data].add(chunk)
                continue
            selector.unregister(key.fd)
            if key.data == "status":
                status_done = True
                deadline = min(deadline, time.monotonic() + GRACE_SECONDS)
    return True
