"""The record channel's writing end: signed JSON records, one socket message each, within a budget.

The parent treats anything else on the channel as tampering (codeloop.sandbox.records),
so the runner must never exceed what the parent accepts: a record stays under
`MAX_RECORD_BYTES`, and all of them under the run's budget. Failure messages are
shortened once half the budget is used; a run whose records would still not fit (many
thousands of tests) ends with a `crash` record saying so. The last records of a run
(tampering found, the end, a crash) may use a reserve kept aside for them.
"""

from __future__ import annotations

import json
import os
from typing import Any

# The parent's limit for one record (codeloop.sandbox.collect.MAX_RECORD_BYTES).
MAX_RECORD_BYTES = 32 << 10
RESERVE_BYTES = 16 << 10
SHORT_MESSAGE_CHARS = 200
FINAL_KINDS = ("tamper", "finished", "crash")


class Emitter:
    """Writes nonce-signed records to the record socket, from the runner's process only."""

    def __init__(self, fd: int, nonce: str, budget: int) -> None:
        self._fd, self._nonce, self._pid = fd, nonce, os.getpid()
        self._write, self._getpid, self._dumps = os.write, os.getpid, json.dumps
        self._exit = os._exit
        self._budget, self._sent = budget, 0

    def room(self) -> int:
        """Bytes left for ordinary records, the reserve kept aside."""
        return self._budget - RESERVE_BYTES - self._sent

    def __call__(self, record: dict[str, Any]) -> None:
        """Write one record (silently nothing in a process the code forked)."""
        if self._getpid() != self._pid:
            return
        record["nonce"] = self._nonce
        data = self._encode(record)
        if isinstance(record.get("message"), str) and (
                len(data) >= MAX_RECORD_BYTES or self._sent > self._budget // 2):
            record["message"] = record["message"][-SHORT_MESSAGE_CHARS:]
            data = self._encode(record)
        room = self.room() + (RESERVE_BYTES if record.get("kind") in FINAL_KINDS else 0)
        if len(data) >= MAX_RECORD_BYTES or len(data) > room:
            self._overflow()
            return
        self._send(data)

    def _encode(self, record: dict[str, Any]) -> bytes:
        return self._dumps(record).encode("utf-8", "replace")

    def _send(self, data: bytes) -> None:
        self._write(self._fd, data)  # one message: a SOCK_SEQPACKET write is all or nothing
        self._sent += len(data)

    def _overflow(self) -> None:
        """End the run with a record that says why (the reserve always has room for it)."""
        message = (f"the run's results came to more than the {self._budget} bytes a run may "
                   "report (too many tests, or too long names): the run stops here")
        self._send(self._encode({"kind": "crash", "message": message, "nonce": self._nonce}))
        self._exit(3)
