"""Checks: calls with expected values, judged outside the tested process, and which to trust.

Four kinds, by where they come from:
- task: the task's own examples (nodes.examples);
- rule: the task's stated rules that say what a call gives (nodes.stated);
- user: the user's tests (`extra_tests`) written as `assert f(x) == literal`;
- model: the model's tests of that form.

The sandbox makes the calls and sends back plain values; they are compared here. Task,
rule and user checks are trusted: approval needs every one to pass. A model check can
itself be wrong (a 0.5B model's expected values often are), so it is *refuted* when two
attempts that pass every trusted check agree on another value (only where the task has
examples or user tests), when a trusted check contradicts it, or when it expects an
exception the task never names. A refuted check no longer blocks approval.
"""

from __future__ import annotations

import ast
import json
from collections import Counter
from dataclasses import dataclass
from typing import Literal

from codeloop.nodes.examples import RAISES, task_examples
from codeloop.nodes.extract import UNPARSABLE, exception_name, is_docstring, raised_call
from codeloop.nodes.rules import anchored
from codeloop.nodes.stated import stated_checks
from codeloop.sandbox import Call, CallReport, CallResult, Limits, call_sandboxed, decode, matches
from codeloop.state import Attempt, CheckDict

Origin = Literal["task", "rule", "user", "model"]
TRUSTED: tuple[Origin, ...] = ("task", "rule", "user")
CONSTANT_PARTS = (ast.Constant, ast.List, ast.Tuple, ast.Set, ast.Dict, ast.BinOp, ast.UnaryOp,
                  ast.expr_context, ast.operator, ast.unaryop)


@dataclass(frozen=True)
class Check:
    """A call and what it should give: a literal's source, or `raises NAME`."""

    name: str
    call: str
    expected: str
    origin: Origin


def checks_for(task: str, code: str, extra_tests: str, model_tests: str) -> list[Check]:
    """Every check of an attempt: the task's examples and rules, the user's, the model's."""
    found = [Check(e.name, e.call, e.expected, "task") for e in task_examples(task, code)]
    found += [Check(e.name, e.call, e.expected, "rule") for e in stated_checks(task, code)]
    found += checks_in(extra_tests, "user")
    found += checks_in(model_tests, "model")
    return found


def checks_in(tests: str, origin: Origin) -> list[Check]:
    """Test functions that are one check each: `assert CALL == LITERAL` or pytest.raises."""
    try:
        module = ast.parse(tests)
    except UNPARSABLE:
        return []
    found = []
    for node in module.body:
        if not isinstance(node, ast.FunctionDef) or node.args.args:
            continue
        if node.name.startswith("test"):
            pair = _single_check(node.body)
            if pair is not None:
                found.append(Check(node.name, pair[0], pair[1], origin))
    return found


def _single_check(body: list[ast.stmt]) -> tuple[str, str] | None:
    """(call, expected) if the body, past a docstring, is exactly one check, else None."""
    body = [statement for statement in body if not is_docstring(statement)]
    if len(body) != 1:
        return None
    statement = body[0]
    if isinstance(statement, ast.Assert) and isinstance(statement.test, ast.Compare):
        compare = statement.test
        if len(compare.ops) == 1 and isinstance(compare.ops[0], ast.Eq | ast.Is):
            call, expected = compare.left, _unwrap_approx(compare.comparators[0])
            if _is_call(call) and _is_literal(expected):
                return ast.unparse(call), ast.unparse(expected)
    if isinstance(statement, ast.With) and len(statement.items) == 1:
        raised = _raised_name(statement.items[0].context_expr)
        inner = raised_call(statement.body)
        if raised and inner is not None and _is_call(inner):
            return ast.unparse(inner), RAISES + raised
    return None


def _unwrap_approx(node: ast.expr) -> ast.expr:
    """`pytest.approx(x)` is x: floats are compared with a tolerance anyway."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "approx" and len(node.args) == 1 and not node.keywords):
        return node.args[0]
    return node


def _raised_name(node: ast.expr) -> str | None:
    """NAME of `pytest.raises(NAME)`, for a built-in exception class."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "raises" and len(node.args) == 1):
        return exception_name(node.args[0])
    return None


def _is_call(node: ast.expr) -> bool:
    """A call of a plain name whose arguments are constants (`'a' * 1000` is one too).

    The call is made in the sandbox, so an argument can be any expression without names;
    only the expected value must be a literal, since it is compared here.
    """
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and all(_is_constant(a) for a in node.args)
            and all(_is_constant(k.value) for k in node.keywords))


def _is_constant(node: ast.expr) -> bool:
    """A literal, or literals combined by operators: nothing that names or calls anything."""
    return _is_literal(node) or all(isinstance(part, CONSTANT_PARTS) for part in ast.walk(node))


def _is_literal(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def run_checks(code: str, checks: list[Check], limits: Limits) -> list[CheckDict]:
    """Make every check's call in the sandbox (one run) and judge each result here."""
    if not checks:
        return []
    report = call_sandboxed(code, [Call(name=c.name, call=c.call) for c in checks], limits)
    return [_judged(check, report) for check in checks]


def _judged(check: Check, report: CallReport) -> CheckDict:
    result = report.results.get(check.name)
    judged: CheckDict = {
        "name": check.name, "call": check.call, "expected": check.expected,
        "origin": check.origin, "outcome": "error", "actual": "",
    }
    if result is None:
        judged["actual"] = report.detail or "no result"
        return judged
    judged["actual"] = result.shown()
    if result.raised is not None:
        judged["value"] = {"raised": result.raised[:1]}
        judged["outcome"] = "passed" if _expects_raise(check, result) else "failed"
        return judged
    if not result.returned:
        return judged
    judged["value"] = result.value
    judged["outcome"] = "passed" if _same(result, check.expected) else "failed"
    return judged


def _expects_raise(check: Check, result: CallResult) -> bool:
    wanted = check.expected[len(RAISES):] if check.expected.startswith(RAISES) else None
    return wanted is not None and wanted in (result.raised or [])


def _same(result: CallResult, expected: str) -> bool:
    if expected.startswith(RAISES):
        return False
    try:
        return matches(decode(result.value), ast.literal_eval(expected))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False


def trusted_pass(attempt: Attempt) -> bool:
    """Every task and user check of the attempt passed (vacuously true without any)."""
    return all(c["outcome"] == "passed" for c in attempt.get("checks", [])
               if c["origin"] in TRUSTED)


def has_trusted(attempt: Attempt) -> bool:
    """Whether the attempt has any trusted check at all."""
    return any(c["origin"] in TRUSTED for c in attempt.get("checks", []))


def refute(
    current: list[CheckDict], earlier: list[Attempt], trusted: bool, task: str | None = None
) -> list[CheckDict]:
    """Mark the model checks that the task or the attempts passing its checks contradict.

    `current` are the current attempt's checks (it passes its trusted checks); `earlier`
    the attempts before it. A model check is refuted when a trusted check makes the same
    call and expects something else, when it expects an exception the task never names
    (a small model invents "invalid input" rules; checked when `task` is given), or when
    the most common outcome of the check among those attempts is one value other than the
    expected one, given by at least two attempts and by more than give the expected.

    Only where the task has examples or user tests (`trusted`, rules.anchored): they anchor
    the vote. Without them, attempts that agree share nothing but the model's belief
    (prose/bsearch: three different programs, one wrong binary search, outvoted the tests
    that caught it, and the run was approved), so there a failing model test stands
    unless contradicted or invented. A check read from one stated rule (nodes.stated) is
    no anchor either: it pins one sentence down, not the rest.
    """
    candidates = [a["checks"] for a in earlier if a.get("checks") and trusted_pass(a)]
    candidates.append(current)
    stated = {c["call"]: c["expected"] for c in current if c["origin"] in TRUSTED}
    marked = []
    for check in current:
        if check["origin"] == "model" and check["outcome"] == "failed":
            contradicts = check["call"] in stated and stated[check["call"]] != check["expected"]
            invented = task is not None and invents_exception(check["expected"], task)
            if contradicts or invented or (trusted and _outvoted(check, candidates, 2)):
                check = {**check, "refuted": True}
        marked.append(check)
    return marked


def invents_exception(expected: str, task: str) -> bool:
    """The expected outcome is an exception the task never names (a small model invents them)."""
    return expected.startswith(RAISES) and expected[len(RAISES):] not in task


def _outvoted(check: CheckDict, candidates: list[list[CheckDict]], needed: int) -> bool:
    """Whether enough attempts agree on one outcome of `check` other than the expected one."""
    outcomes = [_outcome_key(c) for checks in candidates for c in checks
                if c["name"] == check["name"] and c["call"] == check["call"]]
    passing = sum(key == "passed" for key in outcomes)
    counts = Counter(key for key in outcomes if key not in ("passed", None))
    if not counts:
        return False
    _, agreeing = counts.most_common(1)[0]
    return agreeing >= needed and agreeing > passing


def _outcome_key(check: CheckDict) -> str | None:
    """What a call gave, as a comparable key: 'passed', the value it gave instead, or None."""
    if check["outcome"] == "passed":
        return "passed"
    if "value" not in check:
        return None
    return json.dumps(check["value"], sort_keys=True)


def tests_broken(attempt: Attempt) -> bool:
    """The test file could not run although the task's checks pass, so the tests are at fault."""
    report = attempt.get("report")
    return report is not None and report["status"] == "error" and has_trusted(attempt)


def ready_for_review(attempt: Attempt) -> bool:
    """Whether the attempt can be approved at all, so that a review is worth its cost.

    Every trusted check passes, every test passes but for refuted model checks, and at
    least one check or test that is not refuted passed.
    """
    report = attempt.get("report")
    if attempt.get("parse_error") or not report or report["status"] not in ("passed", "failed"):
        return False
    if blocking_failures(attempt):
        return False
    refuted = {c["name"] for c in attempt.get("checks", []) if c.get("refuted")}
    return any(t["outcome"] == "passed" and t["name"] not in refuted for t in report["tests"])


def blocking_failures(attempt: Attempt) -> list[str]:
    """Names of the tests and checks that stop the attempt from being approved."""
    refuted = {c["name"] for c in attempt.get("checks", []) if c.get("refuted")}
    failing = [c["name"] for c in attempt.get("checks", [])
               if c["outcome"] != "passed" and not c.get("refuted")]
    report = attempt.get("report")
    if report:
        failing += [t["name"] for t in report["tests"]
                    if t["outcome"] in ("failed", "error") and t["name"] not in refuted]
    return list(dict.fromkeys(failing))


def only_model_tests_fail(attempt: Attempt) -> bool:
    """The task has examples or user tests, all checks pass, and only the model's tests fail.

    Then the dispute is between the code and tests that may be wrong: the next attempt
    is a second opinion written from the task alone, so that if it agrees with this one
    the tests are refuted, rather than a rewrite steered toward tests that may be wrong.
    """
    if attempt.get("parse_error") or not anchored(attempt) or not trusted_pass(attempt):
        return False
    failing = blocking_failures(attempt)
    trusted_names = set(attempt.get("task_tests", []))
    return bool(failing) and not trusted_names & set(failing)
