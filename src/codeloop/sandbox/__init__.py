"""Runs untrusted generated code and its tests in a separate, limited process.

The interface is deliberately narrow: `run_sandboxed(code, tests, limits) -> TestReport`.
"""

from codeloop.sandbox.report import Limits, TestReport, TestResult
from codeloop.sandbox.run import run_sandboxed

__all__ = ["Limits", "TestReport", "TestResult", "run_sandboxed"]
