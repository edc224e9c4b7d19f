"""Checks judged outside the tested process: calls in, plain values out, compared here.

A check is a call (`add(2, 3)`) and what it should give (`5`, or "raises ValueError").
Only the call goes into the sandbox; the probe there sends back the value as tagged JSON
of exact built-in types (see sandbox/child/probe.py), and the comparison happens in this
trusted process. So the code under test can neither see an expected value nor make a
comparison come out true (no `__eq__` of its own, no patched assert, no skipped check).
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, Field

CallStatus = Literal["done", "error", "timeout"]
FLOAT_TOLERANCE = 1e-6  # relative, like pytest.approx's default


class Call(BaseModel):
    """One call to make in the sandbox, named so its result can be found again."""

    name: str
    call: str


class CallResult(BaseModel):
    """What one call gave: a value (tagged JSON), the built-in exceptions it raised, or why not."""

    name: str
    value: Any = None
    raised: list[str] | None = None
    message: str = ""
    unencodable: str | None = None
    cut_short: str | None = Field(default=None, description="Why the call never finished.")

    @property
    def returned(self) -> bool:
        """True when the call returned plain data."""
        return self.raised is None and self.unencodable is None and self.cut_short is None

    def shown(self) -> str:
        """The outcome as a short text for people and models: a repr, or what went wrong."""
        if self.cut_short:
            return self.cut_short
        if self.raised is not None:
            kind = self.raised[0] if self.raised else "an exception of its own"
            return f"raised {kind}" + (f": {self.message}" if self.message else "")
        if self.unencodable:
            return self.unencodable
        try:
            return repr(decode(self.value))[:300]
        except ValueError:
            return "an unreadable value"


class CallReport(BaseModel):
    """A sandbox run of calls: each one's result, and whether the run as a whole was sound."""

    status: CallStatus
    results: dict[str, CallResult] = Field(default_factory=dict)
    detail: str = ""
    isolation: str = ""


def decode(value: Any) -> Any:
    """Tagged JSON back to the Python value (ValueError if it is not what the probe sends).

    Whatever the sandbox sent, nothing else is raised: a set of lists, a dict entry that
    is not a pair, an int of a million digits are all just not plain data.
    """
    try:
        return _decode(value, 0)
    except (TypeError, RecursionError, OverflowError) as exc:
        raise ValueError(f"not a value the probe sends: {type(exc).__name__}") from None


def _decode(value: Any, depth: int) -> Any:
    if depth > 80:
        raise ValueError("value nested too deeply")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [_decode(item, depth + 1) for item in value]
    if not isinstance(value, dict) or len(value) != 1:
        raise ValueError("not a tagged value")
    tag, inner = next(iter(value.items()))
    if tag == "int" and isinstance(inner, str):
        return int(inner)
    if tag == "float" and inner in ("nan", "inf", "-inf"):
        return float(inner)
    if tag == "bytes" and isinstance(inner, str):
        return bytes.fromhex(inner)
    if tag in ("tuple", "set", "frozenset") and isinstance(inner, list):
        items = [_decode(item, depth + 1) for item in inner]
        return {"tuple": tuple, "set": set, "frozenset": frozenset}[tag](items)
    if tag == "dict" and isinstance(inner, list):
        return {_hashable(_decode(k, depth + 1)): _decode(v, depth + 1) for k, v in inner}
    raise ValueError(f"unknown tag {tag!r}")


def _hashable(key: Any) -> Any:
    if isinstance(key, list):
        raise ValueError("a list cannot be a dict key")
    return key


def matches(actual: Any, expected: Any) -> bool:
    """Equality as a test would mean it, with floats compared to a relative tolerance.

    Both sides are plain data decoded here, so this `==` is Python's own.
    """
    if isinstance(expected, float) or isinstance(actual, float):
        if isinstance(actual, bool) or isinstance(expected, bool):
            return bool(actual == expected)
        if isinstance(actual, int | float) and isinstance(expected, int | float):
            if math.isnan(expected):
                return math.isnan(actual)
            return math.isclose(actual, expected, rel_tol=FLOAT_TOLERANCE, abs_tol=1e-12)
        return False
    if type(actual) is not type(expected) and not (
        isinstance(actual, int) and isinstance(expected, int)  # True == 1 is a test's meaning too
    ):
        return False
    if isinstance(expected, list | tuple):
        return len(actual) == len(expected) and all(
            matches(a, e) for a, e in zip(actual, expected, strict=True))
    if isinstance(expected, dict):
        return bool(actual.keys() == expected.keys()) and all(
            matches(actual[k], v) for k, v in expected.items())
    return bool(actual == expected)
