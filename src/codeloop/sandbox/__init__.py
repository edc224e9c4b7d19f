"""Runs untrusted generated code and its tests in a separate, limited process.

The interface is deliberately narrow: `run_sandboxed(code, tests, limits) -> TestReport` runs
pytest tests; `call_sandboxed(code, calls, limits) -> CallReport` makes calls whose values
come back as plain data, for checks judged outside the tested process.
"""

from codeloop.sandbox.calls import Call, CallReport, CallResult, decode, matches
from codeloop.sandbox.report import Limits, TestReport, TestResult
from codeloop.sandbox.run import call_sandboxed, run_sandboxed

__all__ = [
    "Call", "CallReport", "CallResult", "Limits", "TestReport", "TestResult", "call_sandboxed",
    "decode", "matches", "run_sandboxed",
]
