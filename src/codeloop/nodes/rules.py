"""The task's stated rules, numbered: what the model's tests and the reviewer answer to.

A task in prose states its rules and edge cases in sentences ("An empty list raises
ValueError", "no leading zeros (so "01" is invalid)"). Left to itself a small model
writes tests for the common case and a reviewer approves code that breaks a stated rule.
So where the task has no examples of its own, each sentence of its text becomes a
numbered rule: the tests are asked for one per rule (`test_rule_<n>_...`), an attempt
with a rule no passing test checks cannot be approved (and once tests for it were asked
for again, the run ends there: graph.route), and the reviewer must answer per rule, met
or not met; one rule not met blocks approval.

The rules are the task's own sentences, split here without a model call: a model asked
to list requirements can reword or invent one, and a split cannot. Only the first
MAX_RULES become rules: each needs a test of its own within one reply of the model.
Example lines (`>>>` and their outputs) are left out: nodes.examples turns them into
checks of their own.
"""

from __future__ import annotations

import ast
import re

from codeloop.nodes.extract import UNPARSABLE
from codeloop.prompts.base import RULE_TEST
from codeloop.state import Attempt

MAX_RULES = 8
MIN_WORDS = 3
# A sentence ends at . ! ? or ; followed by a space and something that can start one.
# Dots inside "01.1.1.1", "e.g." or "2.5" have no space or capital after them.
SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=[A-Z\"'(\[`])")
EXAMPLE_LINE = re.compile(r"^\s*(>>>|\.\.\.|examples?\b|for example|e\.g\.|input:|output:)",
                          re.IGNORECASE)
BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
ANCHORS = ("task", "user")  # origins of checks that make a task one of examples, not rules


def stated_rules(task: str) -> list[str]:
    """The task's sentences, in order, as rules (at most MAX_RULES), or none for one sentence.

    A one-sentence task is its own rule, which the plain tests and review cover. For a
    task written as code (a signature and a docstring) the docstrings are the text.
    """
    sentences = [s for s in _sentences(_prose(task))
                 if len(s.split()) >= MIN_WORDS and not s.endswith(":")]
    return sentences[:MAX_RULES] if len(sentences) > 1 else []


def rules_for(task: str, attempt: Attempt) -> list[str]:
    """The rules the attempt's tests and review answer to: none where the task has examples.

    A task with examples of its own (or the user's tests) has checks the loop trusts, and
    they anchor approval; a task stated only in sentences has nothing else (but the checks
    some of its sentences give, nodes.stated).
    """
    return [] if anchored(attempt) else stated_rules(task)


def anchored(attempt: Attempt) -> bool:
    """Whether the attempt has checks from the task's examples or the user's tests."""
    return anchors(attempt) > 0


def anchors(attempt: Attempt) -> int:
    """How many checks the attempt has from the task's examples and the user's tests.

    Checks read from the rules themselves (nodes.stated) do not count: they are rules.
    """
    return sum(c["origin"] in ANCHORS for c in attempt.get("checks", []))


def rule_of(test_name: str) -> int | None:
    """The rule number a test named `test_rule_<n>...` checks, else None."""
    match = re.match(rf"{RULE_TEST}(\d+)", test_name)
    return int(match.group(1)) if match else None


def uncovered(attempt: Attempt, rules: list[str]) -> list[int]:
    """The numbers of the rules no test of the attempt checks: none of theirs passed.

    A refuted test (nodes.checks) does not count: it checks nothing the task says. An
    attempt with a rule uncovered cannot be approved: nothing has checked that rule.
    """
    report = attempt.get("report")
    refuted = {c["name"] for c in attempt.get("checks", []) if c.get("refuted")}
    covered = {rule_of(t["name"]) for t in (report["tests"] if report else [])
               if t["outcome"] == "passed" and t["name"] not in refuted}
    return [number for number in range(1, len(rules) + 1) if number not in covered]


def merged_tests(earlier: str, added: str) -> str:
    """`added` after `earlier`, its test functions renamed where a name is taken.

    Tests for rules that had none are added to the run's tests, not put in their place.
    """
    taken = set(re.findall(r"^def (test\w*)\(", earlier, re.MULTILINE))
    for name in re.findall(r"^def (test\w*)\(", added, re.MULTILINE):
        if name in taken:
            fresh = next(f"{name}_{n}" for n in range(2, 100) if f"{name}_{n}" not in taken)
            added = re.sub(rf"^def {name}\(", f"def {fresh}(", added, count=1, flags=re.MULTILINE)
            name = fresh
        taken.add(name)
    return f"{earlier.rstrip()}\n\n\n{added.strip()}\n" if earlier.strip() else added


def _prose(task: str) -> str:
    """The task's words without code: its docstrings if it is Python, else the task."""
    try:
        module = ast.parse(task)
    except UNPARSABLE:
        return task
    docs = [ast.get_docstring(node) or "" for node in ast.walk(module)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)]
    return "\n".join(d for d in docs if d) or ("" if _is_code(module) else task)


def _is_code(module: ast.Module) -> bool:
    """Whether the text parsed as more than a bare expression (so is code, not a sentence)."""
    return any(not isinstance(node, ast.Expr) for node in module.body)


def _sentences(text: str) -> list[str]:
    """Sentences of `text`, without example lines and what follows them in the same block.

    A bulleted or numbered line starts a sentence of its own.
    """
    units: list[str] = []
    skipping = False
    for line in text.splitlines():
        if EXAMPLE_LINE.match(line):
            skipping = True
        elif not line.strip():
            skipping = False
        elif BULLET.match(line) or not units:
            skipping = False
            units.append(BULLET.sub("", line).strip())
        elif not skipping:
            units[-1] += " " + line.strip()
    return [s.strip() for unit in units for s in SENTENCE_END.split(unit) if s.strip()]
