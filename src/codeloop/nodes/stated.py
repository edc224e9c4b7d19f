"""Stated rules that say exactly what a call gives become checks of their own.

Some sentences of a prose task are examples in all but form: `"CamelCase" becomes
"camel_case"`, "An empty list raises ValueError", "The empty string encodes to the empty
string". Left as rules, only the model's tests check them, and a 0.5B model often writes
no test for such a rule, or one that expects the wrong value (prose/median: no test for
the empty list, so right code was never approved). Read here, without a model, they are
as trustworthy as the task's `>>>` examples: the task says them in so many words.

Only for a task with no examples of its own (its sentences are then its rules, see
nodes.rules) and a function of one parameter, so that the sentence names the whole
input. Each check is named after its rule (`test_rule_<n>_stated`): passing, it covers
that rule. Unlike examples, these checks do not end the rules: the other sentences still
need tests of their own.
"""

from __future__ import annotations

import re

from codeloop.nodes.examples import RAISES, Example, as_test, task_examples, task_function
from codeloop.nodes.rules import stated_rules

PROSE_FUNCTION = re.compile(r"\bfunction\s+([A-Za-z_]\w*)\(([^()]*)\)")
BECOMES = re.compile(r"([\"'])(.*?)\1\s+becomes\s+([\"'])(.*?)\3")
# What a sentence about the empty input calls it, and that input's value.
EMPTY = {"string": "''", "text": "''", "line": "''", "list": "[]"}
EMPTY_INPUT = re.compile(r"\b(?:an|the)\s+empty\s+(string|text|line|list)\b", re.IGNORECASE)
RAISE = re.compile(r"\braises?\s+([A-Z]\w*Error)\b")
GIVES_EMPTY = re.compile(
    r"(?:an|the)\s+empty\s+(string|text|line|list)\s+"
    r"(?:gives|returns|encodes\s+to|becomes)\s+(?:an|the)\s+empty\s+(string|list)\.?",
    re.IGNORECASE,
)
# Between "the empty list" and "raises", these turn the rule around ("does not raise").
NEGATION = re.compile(r"\b(?:not|never|unless|except)\b", re.IGNORECASE)


def stated_checks(task: str, code: str) -> list[Example]:
    """Checks read from the task's rule sentences, for its function of one parameter."""
    function = _one_parameter_function(task, code)
    if function is None or task_examples(task, code):
        return []
    checks: list[Example] = []
    for number, rule in enumerate(stated_rules(task), start=1):
        said = said_in(rule)
        for index, (argument, expected) in enumerate(said, start=1):
            name = f"test_rule_{number}_stated" + (f"_{index}" if len(said) > 1 else "")
            checks.append(Example(name, f"{function}({argument})", expected))
    return checks


def _one_parameter_function(task: str, code: str) -> str | None:
    """The function the task asks for, if it takes one argument.

    The name the task writes ("a function to_snake_case(name)") comes first, defined by
    the code or not: a solution that renames it (prose/snake: `snake_case`) then fails
    these checks with a NameError that says which name the task wants.
    """
    named = PROSE_FUNCTION.search(task)
    if named:
        parameters = [p for p in named[2].split(",") if p.strip() and "=" not in p]
        return named[1] if len(parameters) == 1 else None
    found = task_function(task, code)
    return found[0] if found and found[1].required == 1 else None


def said_in(rule: str) -> list[tuple[str, str]]:
    """(argument, expected) pairs the sentence states outright; expected may be `raises E`."""
    pairs = [(repr(m[2]), repr(m[4])) for m in BECOMES.finditer(rule)]
    gives = GIVES_EMPTY.fullmatch(rule.strip())
    empty, raised = EMPTY_INPUT.search(rule), RAISE.search(rule)
    if gives:
        pairs.append((EMPTY[gives[1].lower()], EMPTY[gives[2].lower()]))
    elif empty and raised and not NEGATION.search(_between(rule, empty, raised)):
        pairs.append((EMPTY[empty[1].lower()], f"{RAISES}{raised[1]}"))
    return pairs


def _between(text: str, first: re.Match[str], second: re.Match[str]) -> str:
    """The text between two matches, whichever comes first."""
    left, right = sorted((first, second), key=lambda match: match.start())
    return text[left.end():right.start()]


def given_tests(task: str, code: str) -> str:
    """Test functions for what the task itself says a call gives: its examples, else its rules."""
    return "\n\n".join(as_test(e) for e in task_examples(task, code) or stated_checks(task, code))
