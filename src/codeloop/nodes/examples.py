"""Turn the examples written in a task into checks: a call and the literal it should give.

A task often shows examples: `>>> f(2)` then `4`; `f(2) == 4`, `f(2) -> 4`, `f(2) => true`,
`f(2)  # returns 4`, `* f(2) ➞ 4`; in prose, "For lst = [1, 2] the output should be 3";
and `Input: lst = [1, 2]` then `Output: 3`.
They are the most trustworthy checks the loop has, because the user wrote them, while a
small model's own expected values are often wrong. Each becomes one check (judged outside
the tested process) and one pytest test of the same name, so a failure names the example.
Only calls to functions the solution defines, with literal arguments, are used; examples
written loosely (`is_happy(a) => False`, meaning the string "a") are skipped rather than
turned into wrong checks.
"""

from __future__ import annotations

import ast
import builtins
import re
from dataclasses import dataclass

from codeloop.nodes.extract import UNPARSABLE

PREFIX = "test_task_example_"
RAISES = "raises "  # an expected value that is an exception: `raises ValueError`
MAX_EXAMPLES = 10
BUILTINS = set(dir(builtins))
DOCTEST = re.compile(r"^\s*>>>\s?(?P<expr>.+)\n(?P<want>(?:^(?!\s*>>>)\s*\S.*\n?)+)", re.MULTILINE)
LEAD = re.compile(r"^\s*(?:>>>|[*•-]|assert\b|for\b|example\s*\d*\s*:)?\s*", re.IGNORECASE)
SEPARATOR = re.compile(
    r"^\s*(?:#\s*)?(?:==>|==|=>|->|➞|→|should\s+return|returns?|should\s+be|gives)\s*",
    re.IGNORECASE,
)
# A bare `=` also writes definitions (`tri(1) = 3` in a recurrence): only after "example".
LOOSE_SEPARATOR = re.compile(r"^\s*=\s*")
PROSE = re.compile(
    r"\bfor\s+(?P<args>[A-Za-z_]\w*\s*=.+?),?\s+(?:then\s+)?the\s+(?:output|result|answer)\s+"
    r"(?:should\s+be|is|will\s+be)\s+(?P<want>.+?)\s*$",
    re.IGNORECASE | re.MULTILINE,
)
# LeetCode-style: "Input: arr = [1, 2], k = 3" (or one `name : value` per line), "Output: 24".
INPUT_OUTPUT = re.compile(
    r"^[ \t]*Input[ \t]*:(?P<args>.*(?:\n(?![ \t]*(?:Input|Output)[ \t]*:).*)*?)"
    r"\n[ \t]*Output[ \t]*:[ \t]*(?P<want>.+)$",
    re.IGNORECASE | re.MULTILINE,
)
ARITHMETIC = re.compile(r"\s*[-+*/%=<>]")
LINE_BREAK = re.compile(r"[ \t]*\n\s*")
NAMED_LINE = re.compile(r"^[A-Za-z_]\w*\s*:\s*")
JSON_WORDS = {"true": "True", "false": "False", "null": "None", "none": "None"}
TASK_DEF = re.compile(r"^\s*def\s+([A-Za-z_]\w*)\s*\(", re.MULTILINE)


@dataclass(frozen=True)
class Example:
    """One example from the task: a call and the literal source of what it should give.

    `expected` may also be `raises NAME` (nodes.stated: "An empty list raises ValueError").
    """

    name: str
    call: str
    expected: str


def task_examples(task: str, code: str) -> list[Example]:
    """The task's examples that call functions `code` defines (at most MAX_EXAMPLES)."""
    defined = _defined_names(code)
    found: list[Example] = []
    seen: set[str] = set()
    function = _task_function(task, defined)
    for call, want in _candidates(task, function, _signature(task, code, function)):
        if call in seen or _called_name(call) not in defined:
            continue
        seen.add(call)
        found.append(Example(f"{PREFIX}{len(found) + 1}", call, want))
        if len(found) == MAX_EXAMPLES:
            break
    return found


def is_example(test_name: str) -> bool:
    """Whether a test in a report came from the task's own examples."""
    return test_name.startswith(PREFIX)


def _candidates(
    task: str, function: str | None, signature: Signature | None
) -> list[tuple[str, str]]:
    """(call, expected) pairs in the order the task shows them, valid ones only.

    Input/Output sections name no function: they are used only when their values fit
    `function`'s `signature`.
    """
    pairs = [(m["expr"], m["want"].strip().splitlines()[0]) for m in DOCTEST.finditer(task)]
    in_examples = False
    for line in task.splitlines():
        pair = _inline(line, loose=in_examples)
        if pair is not None:
            pairs.append(pair)
        in_examples = in_examples or "example" in line.lower()
    if function is not None:
        pairs += [(f"{function}({args})", m["want"]) for m in PROSE.finditer(task)
                  if (args := _keyword_args(m["args"])) is not None]
        pairs += _input_output(task, function, signature)
        pairs += _across_lines(task, function)
    cleaned = [(expr.strip(), _literal_source(want)) for expr, want in pairs]
    return [(e, w) for e, w in cleaned if w is not None and _valid(e, w)]


def _inline(line: str, loose: bool) -> tuple[str, str] | None:
    """`f(x) SEP want` on one line (after a bullet, `>>>`, `assert` or `for`), else None.

    `loose` also takes a bare `=` as the separator.
    """
    lead = LEAD.match(line)
    text = line[lead.end():] if lead else line
    match = re.match(r"[A-Za-z_]\w*\(", text)
    if match is None:
        return None
    end = _closing_paren(text, match.end() - 1)
    if end is None:
        return None
    separator = SEPARATOR.match(text[end + 1:]) or (
        LOOSE_SEPARATOR.match(text[end + 1:]) if loose else None)
    if separator is None:
        return None
    want = text[end + 1 + separator.end():].strip()
    return (text[: end + 1], want) if want else None


def _across_lines(task: str, function: str) -> list[tuple[str, str]]:
    """`function(...) SEP want` anywhere in the text, line breaks and all.

    Prose breaks its lines where it likes ('For example closest_integer("14.5") should' /
    'return 15', HumanEval/99) and a call may spread its arguments over lines (the grid of
    HumanEval/87); read line by line, both were missed, and wrong code passing the
    examples that were read was approved. Only the task's function is read here, and only
    a literal right after the separator is taken ("return 15 and ..." gives 15).
    """
    pairs = []
    for match in re.finditer(rf"(?<![\w.]){re.escape(function)}\(", task):
        end = _closing_paren(task, match.end() - 1)
        if end is None:
            continue
        rest = LINE_BREAK.sub(" ", task[end + 1: end + 400])
        separator = SEPARATOR.match(rest)
        want = _leading_literal(rest[separator.end():]) if separator else None
        if want is not None:
            pairs.append((_one_line(task[match.start(): end + 1]), want))
    return pairs


def _leading_literal(text: str) -> str | None:
    """The longest literal that `text` begins with, up to a space ("15 and so" -> "15").

    None if arithmetic follows it: in "19 - 5 - 6 = 8" (HumanEval/67) 19 is not the answer.
    """
    ends = [m.start() for m in re.finditer(r"\s|$", text)]
    for end in reversed(ends):
        want = text[:end].rstrip(".,;")
        if _is_literal(want):
            return None if ARITHMETIC.match(text[end:]) else want
    return None


def _one_line(call: str) -> str:
    """A call written over several lines, as Python writes it on one."""
    if "\n" not in call:
        return call
    try:
        return ast.unparse(ast.parse(call.strip(), mode="eval"))
    except UNPARSABLE:
        return call


def _closing_paren(text: str, start: int) -> int | None:
    """The index of the bracket closing the one at `start`, skipping over string literals."""
    depth, quote = 0, ""
    for index in range(start, len(text)):
        char = text[index]
        if quote:
            if char == quote and text[index - 1] != "\\":
                quote = ""
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth == 0:
                return index
    return None


def _input_output(task: str, function: str, signature: Signature | None) -> list[tuple[str, str]]:
    """(call, expected) from Input:/Output: sections whose values fit the function."""
    pairs = []
    for match in INPUT_OUTPUT.finditer(task):
        values = _input_values(match["args"], signature) if signature else None
        if values is not None:
            pairs.append((f"{function}({', '.join(values)})", _without_comment(match["want"])))
    return pairs


def _input_values(text: str, signature: Signature) -> list[str] | None:
    """The values of an Input: section, as positional arguments, or None if they do not fit.

    Written `a = 1, b = [2]`, `3`, or one `name : value` per line. Named values go where
    their parameter is; if a name is not a parameter (`bucket_capacity` for `capacity`),
    all go in the order the section lists them.
    """
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    for args in (" ".join(lines), ", ".join(NAMED_LINE.sub("", line) for line in lines)):
        try:
            call = ast.parse(f"f({args})", mode="eval").body
        except UNPARSABLE:
            continue
        if not isinstance(call, ast.Call) or any(
                isinstance(a, ast.Starred) for a in call.args) or not all(
                k.arg for k in call.keywords):
            continue
        values = [*call.args, *(k.value for k in call.keywords)]
        names = [k.arg for k in call.keywords]
        if not call.args and set(names) <= set(signature.names) and len(set(names)) == len(names):
            values = [call.keywords[names.index(n)].value for n in signature.names if n in names]
            if signature.names[: len(values)] != [n for n in signature.names if n in names]:
                continue  # a parameter left out before one given: not positional
        if signature.required <= len(values) <= len(signature.names):
            return [ast.unparse(v) for v in values]
    return None


def _without_comment(want: str) -> str:
    """`24 # sum of 21 + 3` -> `24`; a `#` inside a literal stays."""
    head = want.split("#")[0]
    return head if _is_literal(head.strip()) else want


def _is_literal(text: str) -> bool:
    """Whether `text` is the source of one Python literal."""
    try:
        ast.literal_eval(text)
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
        return False
    return True


def _keyword_args(text: str) -> str | None:
    """`lst = [1, 2], k = 3` as keyword arguments; the longest prefix that parses."""
    parts = text.split(",")
    for count in range(len(parts), 0, -1):
        args = ",".join(parts[:count]).strip().rstrip(",")
        try:
            call = ast.parse(f"f({args})", mode="eval").body
        except UNPARSABLE:
            continue
        if isinstance(call, ast.Call) and call.keywords and not call.args:
            return args
    return None


def _literal_source(want: str) -> str | None:
    """The expected value's source, tidied (`true` -> True, a final full stop dropped)."""
    want = want.strip().rstrip(".,;").strip()
    want = JSON_WORDS.get(want.lower(), want) if want.lower() in JSON_WORDS else want
    return want or None


def _valid(expr: str, want: str) -> bool:
    """A call whose only names are the function and builtins, and a literal expected value.

    A parenthesised expected value that is not a tuple (`("Venus")`, meaning a one-element
    tuple) is ambiguous and skipped.
    """
    try:
        tree = ast.parse(expr, mode="eval")
        expected = ast.literal_eval(want)
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
        return False
    called = _called_name(expr)
    free = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - {called} - BUILTINS
    ambiguous = want.lstrip().startswith("(") and not isinstance(expected, tuple)
    return called is not None and not free and not ambiguous


def task_function(task: str, code: str) -> tuple[str, Signature] | None:
    """The function the task's words are about and its signature, if one is clear."""
    function = _task_function(task, _defined_names(code))
    signature = _signature(task, code, function)
    return (function, signature) if function and signature else None


def _task_function(task: str, defined: set[str]) -> str | None:
    """The function prose examples are about: the one the task defines, else the only one."""
    named = [name for name in TASK_DEF.findall(task) if name in defined]
    if named:
        return str(named[-1])
    public = sorted(name for name in defined if not name.startswith("_"))
    return public[0] if len(public) == 1 else None


@dataclass(frozen=True)
class Signature:
    """The parameters a function takes by position, and how many of them have no default."""

    names: list[str]
    required: int


def _signature(task: str, code: str, function: str | None) -> Signature | None:
    """`function`'s signature as the task writes it, else as the code does (None if variadic).

    The task's comes first: an attempt that adds a parameter does not change the examples.
    """
    for source in (task, code):
        try:
            module = ast.parse(source)
        except UNPARSABLE:
            continue
        for node in module.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == function:
                params = node.args
                if params.vararg or params.kwarg:
                    return None
                names = [a.arg for a in (*params.posonlyargs, *params.args)]
                return Signature(names, len(names) - len(params.defaults))
    return None


def _called_name(expr: str) -> str | None:
    try:
        node = ast.parse(expr, mode="eval").body
    except UNPARSABLE:
        return None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return str(node.func.id)
    return None


def _defined_names(code: str) -> set[str]:
    try:
        module = ast.parse(code)
    except UNPARSABLE:
        return set()
    return {
        n.name for n in module.body
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }


def as_test(example: Example) -> str:
    """The example as a pytest test function of its own name."""
    if example.expected.startswith(RAISES):
        error = example.expected[len(RAISES):]
        return f"def {example.name}():\n    with pytest.raises({error}):\n        {example.call}\n"
    expected = ast.literal_eval(example.expected)
    if isinstance(expected, float):
        check = f"assert {example.call} == pytest.approx({example.expected})"
    else:
        check = f"assert {example.call} == {example.expected}"
    return f"def {example.name}():\n    {check}\n"
