"""Where a reply has said all the loop will use, so the model can stop writing there.

A small chat model follows its code with prose the loop never reads: at the retry
temperature a solution is followed by an "Explanation" section about as long as the
code (on HumanEval/0, 331 tokens, some 150 of them after the code), and a request for
tests often runs to the token limit repeating one assert with new numbers (512 tokens,
11 asserts, where 3 to 5 tests were asked for). On a CPU every token costs the same, so
these tails were a large part of a run's time (on HumanEval 0-9, a third of the tokens
the loop wrote).

Each function here takes the reply written so far and returns the reply as the loop
should keep it once enough has been said, or None while it has not. A model that can
stop early (`stops_early`) is given the function and stops generating; for any other
model the reply is cut afterwards, so what the loop uses does not depend on the model.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable

from codeloop.nodes.extract import OPEN_FENCE, UNPARSABLE

Enough = Callable[[str], str | None]

CLOSED_BLOCK = re.compile(OPEN_FENCE + r"(.*?)\n[ \t]*```", re.DOTALL | re.IGNORECASE)
CHECK_LINE = re.compile(r"^[ \t]*(?:assert\b|with\s+pytest\.raises\b)", re.MULTILINE)
TEST_DEF = re.compile(r"^[ \t]*(?:async\s+)?def\s+test\w*", re.MULTILINE)
FREE_CHECKS = 6  # "3 to 5 test functions" are asked for; one more is kept
CHECKS_PER_RULE = 2


def enough_solution(text: str) -> str | None:
    """The reply up to the end of its first closed code block that defines something.

    What follows such a block is an explanation, or usage examples the loop drops anyway.
    A block that defines nothing (a shell command, say) does not end the reply.
    """
    for block in CLOSED_BLOCK.finditer(text):
        if _has_definition(block.group(1)):
            return text[: block.end()]
    return None


def enough_tests(limit: int) -> Enough:
    """Enough tests: a closed block with a test in it, or `limit` checks written.

    A check is an assert or a `pytest.raises` block (nodes.extract splits a test into
    them). Past the limit the reply is cut before the extra check's line, or before its
    test function if that has no check yet, and the block is closed there.
    """

    def said(text: str) -> str | None:
        for block in CLOSED_BLOCK.finditer(text):
            if TEST_DEF.search(block.group(1)):
                return text[: block.end()]
        starts = [m.start() for m in CHECK_LINE.finditer(text)]
        if len(starts) <= limit:
            return None
        cut = starts[limit]
        last_def = [m.start() for m in TEST_DEF.finditer(text, 0, cut)]
        if last_def and last_def[-1] > starts[limit - 1]:
            cut = last_def[-1]
        return text[:cut].rstrip() + "\n```"

    return said


def checks_allowed(rules: int) -> int:
    """How many checks a test reply may hold: a few free ones, or two per stated rule."""
    return FREE_CHECKS + CHECKS_PER_RULE * rules


def _has_definition(code: str) -> bool:
    try:
        module = ast.parse(code)
    except UNPARSABLE:
        return False
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return any(isinstance(node, kinds) for node in module.body)
