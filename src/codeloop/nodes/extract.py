"""Pull a solution and its tests out of a model's free-form reply.

Small models do not follow a reply format reliably: both parts in one block, tests that
paste a copy of the solution instead of importing it, prose around the code, a reply
cut off by the token limit. Rather than trusting block order, every code block is
parsed and its top-level statements are sorted by what they are: test functions,
test classes and fixtures go to the tests; everything else to the solution.
"""

from __future__ import annotations

import ast
import builtins
import re
import textwrap
from dataclasses import dataclass, field

OPEN_FENCE = r"```[ \t]*(?:python3?|py)?[ \t]*\n"  # what starts a Python block (or a bare one)
FENCE = re.compile(OPEN_FENCE + r"(.*?)(?:```|\Z)", re.DOTALL | re.IGNORECASE)
TEST_HEADER = "import pytest\nfrom solution import *\n"
MAX_CHECKS_PER_TEST = 12
# What ast.parse raises on text it cannot read: besides syntax errors, a null byte
# (ValueError) and nesting deeper than its stack (MemoryError from about 200 nested
# brackets; a model cut off inside a nested example literal writes exactly that).
UNPARSABLE = (SyntaxError, ValueError, MemoryError, RecursionError)


@dataclass(frozen=True)
class Extracted:
    """The solution and tests found in a reply; `error` says why the reply is unusable."""

    code: str = ""
    tests: str = ""
    error: str | None = None


def extract(reply: str, tests_reply: str | None = None) -> Extracted:
    """Split `reply` into solution code and pytest tests, or say what is missing.

    `tests_reply` is a separate reply asked for the tests alone: its tests and helpers
    join the tests, but its definitions never replace the solution's (a model writing
    tests often pastes its own, different, version of the function under test). Only if
    `reply` holds no solution at all is the code taken from there.
    """
    main, extra = _partition(reply), _partition(tests_reply or "")
    if not (main.blocks or extra.blocks):
        return Extracted(error="the reply contains no Python code")
    code, tests = main.imports + main.code, main.imports + main.tests
    if not any(_defines_something(p) for p in main.code):
        code = extra.imports + extra.code
        tests += extra.imports + extra.tests
    else:
        defined = {_key(p, -1) for p in main.code}
        helpers = [p for p in extra.code if _key(p, -1) not in defined]
        tests += extra.imports + helpers + extra.tests
    return _assemble(_dedupe(code), _dedupe(tests))


@dataclass
class _Parts:
    """A reply's top-level statements, sorted by what they are."""

    blocks: int = 0
    imports: list[str] = field(default_factory=list)
    code: list[str] = field(default_factory=list)
    tests: list[str] = field(default_factory=list)


def _partition(reply: str) -> _Parts:
    parts = _Parts()
    blocks = _code_blocks(reply)
    for index, block in enumerate(blocks):
        module = _parse_salvaging(block)
        if module is None:
            continue
        parts.blocks += 1
        lines = block.splitlines()
        taken = {n.name for n in module.body if isinstance(n, ast.FunctionDef)}
        body = module.body
        if index == len(blocks) - 1 and _last_block_open(reply) and _ends_cut(block, body[-1]):
            body = body[:-1]
        for node in body:
            part = _source(lines, node)
            if _is_test_node(node):
                parts.tests.extend(_split_checks(node, taken) or [_meant(node) or part])
            elif isinstance(node, ast.Import | ast.ImportFrom):
                if not _imports_solution(node):
                    parts.imports.append(part)
            elif _belongs_to_code(node):
                parts.code.append(part)
    return parts


def _assemble(code_parts: list[str], test_parts: list[str]) -> Extracted:
    has_code = any(_defines_something(p) for p in code_parts)
    has_tests = any(p.lstrip().startswith(("def test", "class Test", "async def test", "@"))
                    for p in test_parts)
    if not has_code:
        return Extracted(error="the reply has no solution code (no function or class)")
    code = "\n\n".join(code_parts).strip() + "\n"
    if not has_tests:  # tests are asked for on their own (write_tests); none here is fine
        return Extracted(code=code)
    tests = TEST_HEADER + "\n\n" + "\n\n\n".join(test_parts).strip() + "\n"
    return Extracted(code=code, tests=tests)


def _code_blocks(reply: str) -> list[str]:
    blocks = [b for b in FENCE.findall(reply) if b.strip()]
    if blocks:
        return blocks
    # No fences: accept the reply only if it is Python as a whole (some models omit them).
    return [reply] if _parse_salvaging(reply) is not None and "def " in reply else []


def _last_block_open(reply: str) -> bool:
    """Whether the reply's last Python block has no closing fence: the token limit cut it."""
    blocks = [m for m in FENCE.finditer(reply) if m.group(1).strip()]
    return bool(blocks) and not blocks[-1].group(0).endswith("```")


def _ends_cut(block: str, last: ast.stmt) -> bool:
    """Whether `last`, a test, reaches the end of a block the token limit cut short.

    A cut that leaves the block unparsable is mended by dropping lines. But a cut can also
    leave valid code that means something else: `correct_br` is a name, where the model
    was writing `correct_bracketing(...)`; such a test would fail for nothing.
    """
    return _is_test_node(last) and last.end_lineno == len(block.rstrip().splitlines())


def _parse_salvaging(block: str) -> ast.Module | None:
    """Parse a block; if it was cut off mid-statement, drop trailing lines until it parses."""
    lines = block.splitlines()
    for end in range(len(lines), 0, -1):
        try:
            module = ast.parse("\n".join(lines[:end]))
        except UNPARSABLE:
            continue
        return module if module.body else None
    return None


def _source(lines: list[str], node: ast.stmt) -> str:
    first, last = line_span(node)
    return "\n".join(lines[first - 1 : last])


def line_span(node: ast.stmt) -> tuple[int, int]:
    """The first and last line numbers of a statement, its decorators included."""
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    return first, node.end_lineno or node.lineno


def _is_test_node(node: ast.stmt) -> bool:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return node.name.startswith("test") or any(
            "fixture" in ast.unparse(d) for d in node.decorator_list
        )
    return isinstance(node, ast.ClassDef) and node.name.startswith("Test")


def _split_checks(node: ast.stmt, taken: set[str]) -> list[str]:
    """One test per distinct check, for a plain test made only of checks ([] otherwise).

    A check is an assert or a `with pytest.raises(...):` block around one expression.
    Small models write one test with many checks, often repeating a line or asserting
    two different values for the same call. Separate tests tell the next attempt exactly
    which cases fail, and each can be judged on its own (nodes.checks): a block of
    invented `pytest.raises(ValueError)` cases no longer hides among right asserts.
    Repeats are dropped, a call keeps only its first expected value, and the new names
    avoid the `taken` ones (the block's other functions).
    """
    if not isinstance(node, ast.FunctionDef) or (body := _plain_body(node)) is None:
        return []
    subjects = [_check_subject(n) for n in body]
    if len(body) < 2 or None in subjects:
        return []
    seen: set[str | None] = set()
    tests: list[str] = []
    numbers = (n for n in range(1, 1000) if f"{node.name}_{n}" not in taken)
    for statement, subject in zip(body, subjects, strict=True):
        if subject in seen:
            continue
        seen.add(subject)
        source = textwrap.indent(ast.unparse(_meant_check(statement)), "    ")
        tests.append(f"def {node.name}_{next(numbers)}():\n{source}")
    return tests[:MAX_CHECKS_PER_TEST]


def _meant(node: ast.stmt) -> str | None:
    """A one-check test rewritten as meant (`_meant_check`), or None if it needs none."""
    if not isinstance(node, ast.FunctionDef) or (body := _plain_body(node)) is None:
        return None
    if len(body) != 1 or _meant_check(body[0]) is body[0]:
        return None
    return f"def {node.name}():\n" + textwrap.indent(ast.unparse(_meant_check(body[0])), "    ")


def _plain_body(node: ast.FunctionDef) -> list[ast.stmt] | None:
    """The statements of a plain test function past its docstring (None if not plain).

    Plain: no decorators (fixtures, parametrize) and no parameters, so it can be rewritten.
    """
    if node.decorator_list or node.args.args:
        return None
    return [n for n in node.body if not is_docstring(n)]


def _meant_check(statement: ast.stmt) -> ast.stmt:
    """`assert f(x) == ValueError` as the model meant it: `with pytest.raises(ValueError)`.

    As written it can never pass (f would have to return the class), and the code that
    does raise would fail it too. Rewritten, the test and its check agree, and an error
    the task never names is refuted like any other invented one (nodes.checks).
    """
    test = statement.test if isinstance(statement, ast.Assert) else None
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1
            and isinstance(test.ops[0], ast.Eq) and isinstance(test.left, ast.Call)):
        return statement
    error = exception_name(test.comparators[0])
    if error is None:
        return statement
    return ast.parse(f"with pytest.raises({error}):\n    {ast.unparse(test.left)}").body[0]


def exception_name(node: ast.expr) -> str | None:
    """NAME if the node is the name of a built-in exception class, else None."""
    if not isinstance(node, ast.Name):
        return None
    builtin = getattr(builtins, node.id, None)
    return node.id if isinstance(builtin, type) and issubclass(builtin, BaseException) else None


def _check_subject(statement: ast.stmt) -> str | None:
    """What a check is about (what it calls), or None if the statement is no check.

    A `pytest.raises(...) as name` block is no check: a later statement uses the name.
    """
    if isinstance(statement, ast.Assert):
        test = statement.test
        if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
            return ast.unparse(test.left)
        return ast.unparse(test)
    if (isinstance(statement, ast.With) and len(statement.items) == 1
            and statement.items[0].optional_vars is None
            and _is_pytest_raises(statement.items[0].context_expr)):
        call = raised_call(statement.body)
        return None if call is None else ast.unparse(call)
    return None


def _is_pytest_raises(node: ast.expr) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "raises" and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "pytest")


def raised_call(body: list[ast.stmt]) -> ast.expr | None:
    """The one call a `pytest.raises` block makes: `f(x)`, or `result = f(x)`, else None."""
    if len(body) != 1:
        return None
    statement = body[0]
    if isinstance(statement, ast.Expr):
        return statement.value
    if (isinstance(statement, ast.Assign) and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)):
        return statement.value
    return None


def is_docstring(node: ast.stmt) -> bool:
    """A bare string statement: it documents and checks nothing."""
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)


def _imports_solution(node: ast.Import | ast.ImportFrom) -> bool:
    if isinstance(node, ast.ImportFrom):
        return node.module == "solution" or node.module == "pytest"
    return any(alias.name in ("solution", "pytest") for alias in node.names)


def _belongs_to_code(node: ast.stmt) -> bool:
    """Definitions and constants are code; top-level calls, asserts and main guards are not."""
    if isinstance(node, ast.If) and "__name__" in ast.unparse(node.test):
        return False
    return not isinstance(node, ast.Expr | ast.Assert)


def _defines_something(part: str) -> bool:
    return bool(re.match(r"\s*(@|def |class |async def )", part))


def _dedupe(parts: list[str]) -> list[str]:
    """Keep the last definition of each name (a later block corrects an earlier one)."""
    seen: dict[str, int] = {}
    for index, part in enumerate(parts):
        seen[_key(part, index)] = index
    keep = set(seen.values())
    return [p for i, p in enumerate(parts) if i in keep]


def _key(part: str, index: int) -> str:
    match = re.match(r"\s*(?:@.*\n\s*)*(?:async\s+)?(?:def|class)\s+(\w+)", part)
    if match:
        return "def:" + match.group(1)
    if part.lstrip().startswith(("import ", "from ")):
        return "import:" + part.strip()
    return f"stmt:{index}"


def with_task_definitions(code: str, task: str) -> str:
    """Prepend the imports and helper functions a code-shaped task defines but `code` lacks.

    A task given as Python (a signature and docstring, maybe a helper it relies on, as in
    HumanEval) is part of the program; models often answer with the one function asked
    for and drop the imports or helpers it uses. Stubs (a docstring only) are not copied.
    """
    try:
        task_module, code_module = ast.parse(task), ast.parse(code)
    except UNPARSABLE:
        return code
    defined = _bound_names(code_module)
    lines = task.splitlines()
    additions = [
        _source(lines, node)
        for node in task_module.body
        if _bound_names_of(node) - defined and not _is_stub(node)
    ]
    return "\n\n".join([*additions, code]) if additions else code


def begun_solution(task: str) -> str:
    """A solution's start written from a code-shaped task: a code block holding the task.

    Only for a task that ends with a stub (a signature and docstring, as in HumanEval),
    else "". A model given this start writes the body alone, not the signature and
    docstring again first: on HumanEval/1, 110 of a 302-token solution.
    """
    try:
        module = ast.parse(task)
    except UNPARSABLE:
        return ""
    if not (module.body and _is_stub(module.body[-1])):
        return ""
    return f"```python\n{task.strip()}\n"


def _bound_names(module: ast.Module) -> set[str]:
    return set().union(*(_bound_names_of(node) for node in module.body))


def _bound_names_of(node: ast.stmt) -> set[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    if isinstance(node, ast.Import | ast.ImportFrom):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    return set()


def _is_stub(node: ast.stmt) -> bool:
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return False
    body = [n for n in node.body if not is_docstring(n)]
    return all(isinstance(n, ast.Pass) or is_docstring(n) for n in body)
