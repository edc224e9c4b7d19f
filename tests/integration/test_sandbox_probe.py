"""The probe of `call_sandboxed` sends plain data only, whatever the code under test returns or raises.

The encoder takes exact built-in types only (no subclass, no object with an `__eq__` of
its own), bounded in depth and size; an exception is described by its built-in classes,
even if its `__str__` is hostile; names the solution shadows never reach a call; and a
probe that is tampered with reports an error, never values.
"""

from __future__ import annotations

import pytest

from codeloop.sandbox import Call, CallReport, Limits, call_sandboxed, decode
from codeloop.sandbox.child import probe

pytestmark = pytest.mark.integration

LIMITS = Limits(wall_seconds=20)


def call(code: str, *calls: str) -> CallReport:
    return call_sandboxed(code, [Call(name=f"c{n}", call=c) for n, c in enumerate(calls)], LIMITS)


@pytest.mark.parametrize("value", [
    None, True, 0, -(1 << 70), 1.5, "text", b"\x00\xff", [1, [2]], (1, "a"), {1, 2},
    frozenset({3}), {"a": [1], (1, 2): None}, float("inf"),
])
def test_plain_values_go_through_unchanged(value):
    assert decode(probe.encode(value, [1000])) == value


class Number(int):
    pass


class Text(str):
    pass


class Anything:
    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = object.__hash__


@pytest.mark.parametrize("value", [Number(1), Text("a"), Anything(), [1, Anything()],
                                   {"key": Number(2)}, (Text("x"),)])
def test_subclasses_and_custom_objects_are_refused(value):
    with pytest.raises(probe.Unencodable):
        probe.encode(value, [1000])


SOLUTION = '''
class Number(int):
    def __eq__(self, other):
        return True
    __hash__ = int.__hash__

class Hostile(ValueError):
    def __str__(self):
        raise RuntimeError("no message for you")

class ValueError(Exception):
    pass

def number():
    return Number(5)

def hostile():
    raise Hostile()

def fake_value_error():
    raise ValueError("not the builtin")

def deep():
    value = []
    for _ in range(200):
        value = [value]
    return value

def wide():
    return list(range(50_000))

def big():
    return "x" * 20_000

def length(text):
    return len(text)

def len(_):
    return 0

def double(n):
    return 2 * n
'''


def test_values_that_are_not_plain_data_come_back_as_unencodable():
    report = call(SOLUTION, "number()", "deep()", "wide()", "big()")
    assert report.status == "done", report.detail
    shown = {name: result.unencodable for name, result in report.results.items()}
    assert "not plain data" in str(shown["c0"])
    assert "too large or too deeply nested" in str(shown["c1"])
    assert "too large or too deeply nested" in str(shown["c2"])
    assert "too large to send back" in str(shown["c3"])
    assert all(result.value is None for result in report.results.values())


def test_an_exception_is_told_by_its_builtin_classes_even_with_a_hostile_str():
    report = call(SOLUTION, "hostile()", "fake_value_error()")
    hostile, fake = report.results["c0"], report.results["c1"]
    assert hostile.raised == ["ValueError", "Exception", "BaseException"]
    assert hostile.message == ""
    assert fake.raised == ["Exception", "BaseException"]  # its own class named ValueError


def test_names_the_solution_shadows_never_reach_the_call():
    report = call(SOLUTION, "double(len('abc'))", "length('abc')")
    assert decode(report.results["c0"].value) == 6  # the builtin len, not the solution's
    assert decode(report.results["c1"].value) == 0  # inside the solution, its own len


@pytest.mark.parametrize("attack", [
    "import sys\nsys.setprofile(lambda *args: None)\n",
    "import sys\nsys.modules['_codeloop_sandbox_child.probe'].encode.__code__ = "
    "(lambda value, budget, depth=0: 5).__code__\n",
])
def test_a_tampered_probe_reports_an_error(attack):
    report = call(attack + "def f():\n    return 1\n", "f()")
    assert report.status == "error"
    assert "tampered" in report.detail


def test_a_call_that_hangs_is_cut_short_and_named():
    report = call_sandboxed("import time\ndef f():\n    time.sleep(60)\n",
                            [Call(name="slow", call="f()")], Limits(wall_seconds=2))
    assert report.status == "timeout"
    assert report.results["slow"].cut_short
