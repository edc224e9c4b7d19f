"""Graph overhead per iteration: everything that is not the model or the sandbox.

    .venv/bin/python bench/bench_graph.py [--runs 20] [--iterations 5]

The model is an instant scripted fake and the sandbox is replaced by an instant fake
report, so what remains is LangGraph, state handling, prompt rendering and parsing.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.helpers import ScriptedContext, reply_with_code, reply_with_tests, reply_with_verdict

from codeloop.graph import build_graph
from codeloop.models.scripted import ScriptedChatModel
from codeloop.sandbox import TestReport, TestResult

CODE = reply_with_code("def add(a, b):\n    return a - b\n")
TESTS = reply_with_tests("def test_add():\n    assert add(1, 2) == 3\n")
VERDICT = reply_with_verdict(False, 2, ["subtracts instead of adding"])


def reply(messages, options) -> str:
    if options.get("json_schema"):
        return VERDICT
    return TESTS if "pytest tests" in messages[-1].text else CODE


def instant_sandbox(code, tests, limits=None) -> TestReport:
    return TestReport(status="failed", tests=[TestResult(name="test_add", outcome="failed", message="assert -1 == 3")])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--iterations", type=int, default=5)
    args = parser.parse_args()
    importlib.import_module("codeloop.nodes.execute").run_sandboxed = instant_sandbox
    graph = build_graph()
    context = ScriptedContext(scripted=ScriptedChatModel(script=reply), max_iterations=args.iterations)
    graph.invoke({"task": "Write add(a, b)."}, context=context)  # warm-up
    per_iteration = []
    for _ in range(args.runs):
        started = time.perf_counter()
        out = graph.invoke({"task": "Write add(a, b)."}, context=context)
        per_iteration.append((time.perf_counter() - started) / len(out["attempts"]))
    print(f"graph overhead per iteration: median {statistics.median(per_iteration) * 1000:.2f} ms, "
          f"max {max(per_iteration) * 1000:.2f} ms  ({args.runs} runs x {args.iterations} iterations, "
          f"instant model and sandbox)")


if __name__ == "__main__":
    main()
