"""Prompts for instruct models that have a chat template (the embedded Qwen coder)."""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from typing import ClassVar

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from codeloop.nodes.extract import UNPARSABLE, line_span
from codeloop.prompts.base import RULE_TEST, numbered, render
from codeloop.prompts.feedback import findings
from codeloop.state import Attempt

FREE_COUNT = "Write 3 to 5 short test functions, each checking one case."
RULES_COUNT = ("Write one short test function for each numbered rule, named for the rule "
               "(test_rule_1_..., test_rule_2_..., and so on), checking a case the rule decides.")


class ChatPrompts:
    """Solution first, tests as a follow-up turn.

    Small models answer one request per reply: asked for code and tests at once, a 0.5B
    model writes the code and stops. Two turns get both reliably.

    A retry shows what went wrong but not the rejected code: shown its previous code, a
    small model rewrites the same solution (on HumanEval 0-39 it fixed 0 of 8 failures
    that way, against 4 of 9 from the findings alone). A person's feedback is about the
    code they saw, so then the code is shown.
    """

    stop: ClassVar[tuple[str, ...]] = ("<|im_end|>", "<|endoftext|>")

    def generation(
        self, task: str, constraints: str, previous: Attempt | None, human_feedback: str | None
    ) -> list[BaseMessage]:
        """Ask for a solution and tests, with the findings on the previous attempt if any."""
        extra = f"\nConstraints:\n{constraints}\n" if constraints else ""
        user = render("chat_generate_user", task=task.strip(), constraints=extra)
        if previous is not None and human_feedback:
            user += render(
                "chat_feedback_with_code",
                code=previous["code"].strip() or "# (none)",
                tests=previous["tests"].strip() or "# (none)",
                findings=findings(previous, human_feedback),
            )
        elif previous is not None:
            user += render("chat_feedback", findings=findings(previous))
        return [SystemMessage(render("chat_generate_system")), HumanMessage(user)]

    def test_writing(
        self, generation: list[BaseMessage], solution: str, rules: Sequence[str] = (),
        retry: bool = False, missing: Sequence[int] = (),
    ) -> list[BaseMessage]:
        """Follow the solution with a request for its tests, in the same conversation.

        With the task's rules, one test per rule, named for it; with `missing`, tests of
        those rules only. On a retry (the tests written before could not run) the
        request says so.
        """
        if rules:
            listed = render("chat_tests_rules", rules=numbered(rules))
            form = "\n\n\n".join(_test_form(f"{RULE_TEST}{n}_") for n in (1, 2))
            count = RULES_COUNT
        else:
            listed, form, count = "", _test_form("test_"), FREE_COUNT
        request = render("chat_tests_request", rules=listed, form=form, count=count)
        request += render("chat_tests_retry") if retry else ""
        if missing:
            request += render("chat_tests_missing", rules=", ".join(map(str, missing)))
        return [*generation, AIMessage(solution), HumanMessage(request)]

    def review(self, task: str, attempt: Attempt, rules: Sequence[str] = ()) -> list[BaseMessage]:
        """Ask for a JSON verdict on the attempt, given its test results (and rules, if any)."""
        listed = render("chat_review_rules", rules=numbered(rules)) if rules else ""
        user = render(
            "chat_review_user",
            task=task.strip(),
            rules=listed,
            code=without_copied_docstrings(attempt["code"], task),
            tests=counted_tests(attempt),
            results=test_summary(attempt),
        )
        return [SystemMessage(render("chat_review_system")), HumanMessage(user)]

    def repair(self, problem: str) -> BaseMessage:
        """Ask again for a verdict that parses."""
        return HumanMessage(render("chat_review_repair", problem=problem))


def _test_form(prefix: str) -> str:
    """The shape of one test function, as the request shows it."""
    return f"def {prefix}<what_it_checks>():\n    assert <call> == <expected value>"


def without_copied_docstrings(code: str, task: str) -> str:
    """The solution as the reviewer is shown it: without docstrings copied from the task.

    Solutions to a task that is a signature and docstring repeat the docstring, which the
    reviewer has just read in the task: on HumanEval about a fifth of a review's prompt,
    read at about 8 ms a token on a CPU. Docstrings the task does not contain are kept.
    """
    try:
        module = ast.parse(code)
    except UNPARSABLE:
        return code.strip()
    shown = " ".join(task.split())
    copies = [
        node.body[0] for node in ast.walk(module)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and len(node.body) > 1 and (doc := ast.get_docstring(node, clean=False))
        and " ".join(doc.split()) in shown
    ]
    return _cut(code, copies).strip()


def _cut(source: str, nodes: Sequence[ast.stmt]) -> str:
    """`source` without the lines of `nodes` (statements of its own parse tree)."""
    lines = source.splitlines()
    for node in sorted(nodes, key=lambda n: n.lineno, reverse=True):
        first, last = line_span(node)
        del lines[first - 1 : last]
    return "\n".join(lines)


def counted_tests(attempt: Attempt) -> str:
    """The attempt's test file as the reviewer is shown it: without the refuted tests.

    They no longer count (nodes.checks), the summary names them, and their text is
    prompt the reviewer reads at about 5 ms a token on a CPU.
    """
    tests = attempt["tests"]
    refuted = {c["name"] for c in attempt.get("checks", []) if c.get("refuted")}
    try:
        module = ast.parse(tests)
    except UNPARSABLE:
        return tests.strip()
    dropped = [node for node in module.body
               if isinstance(node, ast.FunctionDef) and node.name in refuted]
    return re.sub(r"\n{4,}", "\n\n\n", _cut(tests, dropped)).strip()


def test_summary(attempt: Attempt) -> str:
    """One line (plus failures) describing how the tests went, for the reviewer."""
    report = attempt.get("report")
    if not report:
        return "not run"
    refuted = {c["name"] for c in attempt.get("checks", []) if c.get("refuted")}
    counted = [t for t in report["tests"] if t["name"] not in refuted]
    failing = [t for t in counted if t["outcome"] in ("failed", "error")]
    status = report["status"] if failing or report["status"] != "failed" else "passed"
    passed = sum(t["outcome"] == "passed" for t in counted)
    head = f"{status}: {passed} of {len(counted)} passed."
    details = [f"\n{t['name']}:\n{t['message'][:400]}" for t in failing[:3]]
    if refuted:
        details.append(f"\nNot counted nor shown, because solutions that pass the task's "
                       f"examples agree these tests expect wrong values: "
                       f"{', '.join(sorted(refuted))}")
    if report["detail"]:
        details.append(f"\n{report['detail'][:400]}")
    return head + "".join(details)
