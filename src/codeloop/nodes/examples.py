"""Turn the examples written in a task into tests.

A task often shows examples (`>>> f(2)` then `4`, or `f(2) == 4`). They are the most
trustworthy tests the loop has, because the user wrote them, while a small model's
own expected values are often wrong. Each example becomes one test function, so a
failure names the example. Only calls to functions the solution defines are used.
"""

from __future__ import annotations

import ast
import builtins
import re

PREFIX = "test_task_example_"
DOCTEST = re.compile(r"^\s*>>>\s?(?P<expr>.+)\n(?P<want>(?:^(?!\s*>>>)\s*\S.*\n?)+)", re.MULTILINE)
INLINE = re.compile(
    r"^\s*(?P<expr>[A-Za-z_]\w*\(.*\))\s*"
    r"(?:==>|==|=>|->|➞|→|should return|returns)\s*(?P<want>.+?)\s*$",
    re.MULTILINE,
)
MAX_EXAMPLES = 10
BUILTINS = set(dir(builtins))


def example_tests(task: str, code: str) -> str:
    """Test functions for the task's examples that call functions `code` defines ('' if none)."""
    defined = _defined_names(code)
    tests: list[str] = []
    for expr, want in _examples(task):
        call = _called_name(expr)
        if call in defined:
            tests.append(_test_source(len(tests) + 1, expr, want))
        if len(tests) == MAX_EXAMPLES:
            break
    return "\n\n".join(tests)


def is_example(test_name: str) -> bool:
    """Whether a test in a report came from the task's own examples."""
    return test_name.startswith(PREFIX)


def _examples(task: str) -> list[tuple[str, str]]:
    found = [(m["expr"], m["want"].strip().splitlines()[0]) for m in DOCTEST.finditer(task)]
    if not found:
        found = [(m["expr"], m["want"]) for m in INLINE.finditer(task)]
    return [(e.strip(), w.strip().rstrip(".,;")) for e, w in found if _valid(e, w)]


def _valid(expr: str, want: str) -> bool:
    """A call whose only names are the function and builtins, and a literal expected value.

    Examples written loosely (`is_happy(a) => False`, meaning the string "a"; or
    `("Venus")`, meaning a one-element tuple) are skipped rather than turned into wrong tests.
    """
    try:
        tree = ast.parse(expr, mode="eval")
        expected = ast.literal_eval(want)
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
        return False
    called = _called_name(expr)
    free = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - {called} - BUILTINS
    ambiguous = want.lstrip().startswith("(") and not isinstance(expected, tuple)
    return not free and not ambiguous


def _called_name(expr: str) -> str | None:
    node = ast.parse(expr, mode="eval").body
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id
    return None


def _defined_names(code: str) -> set[str]:
    try:
        module = ast.parse(code)
    except SyntaxError:
        return set()
    return {
        n.name for n in module.body
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }


def _test_source(number: int, expr: str, want: str) -> str:
    expected = ast.literal_eval(want)
    if isinstance(expected, float):
        check = f"assert {expr} == pytest.approx({want})"
    else:
        check = f"assert {expr} == {want}"
    return f"def {PREFIX}{number}():\n    {check}\n"
