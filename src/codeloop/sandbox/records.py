"""Read the record stream strictly: anything but a signed, well-formed record is tampering.

Only the runner writes to the record socket, one JSON object per message, each signed
with the run's nonce, of the shapes below, within the run's record budget. So a message
that does not parse (deeply nested JSON included), is unsigned, has an unknown kind or
fields of the wrong type, is oversized, or comes past the budget can only have been
written by the code under test. Such messages are not skipped (skipping let junk hide
failing tests' records) but turn into one `tamper` record made here, which makes the
verdict an error. The judge then reads only records of known shape, so nothing the
sandbox sends can raise out of it.
"""

from __future__ import annotations

from typing import Any

from codeloop.sandbox.collect import Gathered, parse

Records = list[dict[str, Any]]

_TEXT = (str,)
_NUMBER = (int,)
_LIST = (list,)
_OPTIONAL_TEXT = (str, type(None))
_OPTIONAL_LIST = (list, type(None))
# kind -> field -> the types it may have; fields not named here are not allowed.
SHAPES: dict[str, dict[str, tuple[type, ...]]] = {
    "collected": {"names": _LIST},
    "start": {"name": _TEXT},
    "test": {"name": _TEXT, "outcome": _TEXT, "message": _TEXT},
    "collect_error": {"name": _TEXT, "message": _TEXT},
    "crash": {"message": _TEXT},
    "tamper": {"what": _LIST},
    "finished": {"exitstatus": _NUMBER, "collected": _NUMBER},
    "check": {"name": _TEXT, "value": (object,), "raised": _OPTIONAL_LIST, "message": _TEXT,
              "unencodable": _OPTIONAL_TEXT},
}
# Fields of lists that must hold strings only.
_STRING_LISTS = ("names", "what", "raised")


def well_formed(record: dict[str, Any]) -> bool:
    """Whether a record (its nonce removed) has a known kind and fields of the right types."""
    kind = record.get("kind")
    shape = SHAPES.get(kind) if isinstance(kind, str) else None
    if shape is None:
        return False
    for name, value in record.items():
        allowed = shape.get(name, ()) if name != "kind" else _TEXT
        if not isinstance(value, allowed):
            return False
        if name in _STRING_LISTS and isinstance(value, list) and not all(
                isinstance(item, str) for item in value):
            return False
    return True


def signed(gathered: Gathered, nonce: str) -> Records:
    """The run's records, with a `tamper` record added for anything else on the socket."""
    records: Records = []
    problems: dict[str, int] = {}

    def count(problem: str, times: int = 1) -> None:
        if times:
            problems[problem] = problems.get(problem, 0) + times

    for message in gathered.records.kept:
        record = parse(message)
        if record is None:
            count("an unreadable record")
        elif record.pop("nonce", None) != nonce:
            count("an unsigned record")
        elif not well_formed(record):
            count("a malformed record")
        else:
            records.append(record)
    count("an oversized record", gathered.records.oversized)
    count("records beyond the run's record budget", gathered.records.dropped)
    if problems:
        what = [f"{problem} on the result channel (x{times})" for problem, times in
                problems.items()]
        records.append({"kind": "tamper", "what": what})
    return records


def collected_names(records: Records) -> set[str] | None:
    """The names of the collected tests or calls (None if the run never reported them).

    The runner reports them in one or more `collected` records.
    """
    parts = [r["names"] for r in records if r.get("kind") == "collected"]
    return {name for names in parts for name in names} if parts else None
