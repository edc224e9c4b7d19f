"""Make calls into the code under test and send back what they returned, as plain data only.

This runs inside the confined test process instead of pytest, for checks whose expected
values the parent keeps to itself (a task's examples, a benchmark's hidden checks). The
child never sees an expected value and never compares: it evaluates each call and writes
the result through a strict encoder that accepts exact built-in types only (no subclass,
no object with its own `__eq__`), so a value cannot "equal everything". The parent
compares (codeloop.sandbox.checks).

Calls are evaluated with the builtins as they were before the solution was imported and
with only the solution's top-level names the call uses, so the solution cannot shadow a
name the check relies on. The encoder's and emitter's code objects are checked after
every call, and trace and profile hooks after the import and every call: code swapped
in place, or a hook that could rewrite a result on its way out, is tampering. A value
that would not fit in one record is reported as too large rather than sent.
"""

from __future__ import annotations

import builtins
import importlib
import json
import math
import os
import sys
from typing import Any, NoReturn

from .audit import Audit
from .emit import MAX_RECORD_BYTES, Emitter
from .guard import hooks_set
from .runner import _flush, _fresh_std_streams, chunks

CHECKS_FILE = "checks.json"
MAX_DEPTH = 64
MAX_ITEMS = 20_000
MAX_STRING = 100_000
MESSAGE_CHARS = 300
# Room in a record for a value, the rest of the record and its JSON escapes aside.
VALUE_BYTES = MAX_RECORD_BYTES // 2


class Unencodable(Exception):
    """The value is not plain data (or is too large or deep to send)."""


def encode(value: Any, budget: list[int], depth: int = 0) -> Any:
    """The value as JSON, tagging what JSON cannot say (tuples, sets, dicts, big ints)."""
    budget[0] -= 1
    if budget[0] < 0 or depth > MAX_DEPTH:
        raise Unencodable("the value is too large or too deeply nested to compare")
    kind = type(value)
    if value is None or kind is bool:
        return value
    if kind is int:
        return value if abs(value) < 1 << 53 else {"int": str(value)}
    if kind is float:
        return value if math.isfinite(value) else {"float": repr(value)}
    if kind is str:
        if len(value) > MAX_STRING:
            raise Unencodable("the value is too large to compare")
        return value
    if kind is bytes:
        return {"bytes": value.hex()}
    if kind in (list, tuple, set, frozenset):
        items = [encode(item, budget, depth + 1) for item in value]
        return items if kind is list else {kind.__name__: items}
    if kind is dict:
        return {"dict": [[encode(k, budget, depth + 1), encode(v, budget, depth + 1)]
                         for k, v in value.items()]}
    raise Unencodable(f"returned a {kind.__name__}, not plain data")


def raised(exc: BaseException) -> dict[str, Any]:
    """What an exception tells the parent: the built-in classes it is an instance of."""
    names = [c.__name__ for c in type(exc).__mro__
             if getattr(builtins, c.__name__, None) is c and c is not object]
    try:
        message = str(exc)[:MESSAGE_CHARS]
    except BaseException:  # an exception class of the code's own may fail even here
        message = ""
    return {"raised": names, "message": message}


def evaluate(
    call: str, module: Any, pristine: dict[str, Any], limit: int = VALUE_BYTES
) -> dict[str, Any]:
    """Evaluate one call expression against the solution: its value, or what it raised.

    A value of more than `limit` bytes of JSON is reported as too large.
    """
    try:
        code = compile(call, "<check>", "eval")
        called = code.co_names[:1]  # the function under test; other names mean the builtins
        names = {name: getattr(module, name) for name in code.co_names
                 if hasattr(module, name) and (name in called or name not in pristine)}
        value = eval(code, {"__builtins__": dict(pristine)}, names)
    except BaseException as exc:
        return raised(exc)
    try:
        encoded = encode(value, [MAX_ITEMS])
        size = len(json.dumps(encoded))
    except Unencodable as exc:
        return {"unencodable": str(exc)}
    except BaseException as exc:  # a hostile container (a list whose items change type, say)
        return {"unencodable": f"encoding failed: {type(exc).__name__}"}
    if size > limit:
        return {"unencodable": f"the value is too large to send back ({size} bytes as JSON)"}
    return {"value": encoded}


def run(work: str, emit: Emitter, writable: tuple[str, ...], block_network: bool) -> NoReturn:
    """Evaluate every check in `work/checks.json`; never returns (the process ends with it)."""
    watched = [encode, raised, evaluate, Emitter.__call__, Emitter._encode, Emitter._send,
               json.dumps, json.encoder.JSONEncoder.encode]
    code_before = [function.__code__ for function in watched]
    audit = Audit(writable, lambda what: emit({"kind": "tamper", "what": [what]}), block_network)
    audit.install()
    audit.protect(watched)
    exit_now, pristine = os._exit, dict(vars(builtins))
    _fresh_std_streams()
    try:
        with open(os.path.join(work, CHECKS_FILE), encoding="utf-8") as handle:
            checks = json.load(handle)  # read before any untrusted code runs
        for names in chunks([c["name"] for c in checks]):
            emit({"kind": "collected", "names": names})
        sys.path.insert(0, work)
        try:
            module = importlib.import_module("solution")
        except BaseException as exc:
            emit({"kind": "collect_error", "name": "solution.py",
                  "message": f"importing the solution failed: {type(exc).__name__}: {exc}"[:1200]})
            _flush()
            exit_now(0)
        for check in checks:
            if _tampered(emit, watched, code_before):
                break
            emit({"kind": "start", "name": check["name"]})
            result = evaluate(check["call"], module, pristine,
                              min(VALUE_BYTES, emit.room() // 2))
            if _tampered(emit, watched, code_before):
                break
            emit({"kind": "check", "name": check["name"], **result})
        emit({"kind": "finished", "exitstatus": 0, "collected": len(checks)})
    except BaseException as exc:
        emit({"kind": "crash", "message": f"{type(exc).__name__}: {exc}"[:1200]})
    _flush()
    exit_now(0)


def _tampered(emit: Emitter, watched: list[Any], code_before: list[Any]) -> bool:
    """Report a replaced checker or a trace/profile hook; True if there was one."""
    found = hooks_set()
    if [function.__code__ for function in watched] != code_before:
        found.append("the checker's code was replaced")
    if found:
        emit({"kind": "tamper", "what": found})
    return bool(found)
