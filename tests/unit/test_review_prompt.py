"""What the reviewer is shown of a solution: its code, without docstrings copied from the task."""

from codeloop.prompts.chat import ChatPrompts, without_copied_docstrings

TASK = '''def add(a: int, b: int) -> int:
    """Return the sum of a and b.
    >>> add(2, 3)
    5
    """
'''

SOLUTION = '''def add(a: int, b: int) -> int:
    """Return the sum of a and b.
      >>> add(2, 3)
      5
    """
    return _plus(a, b)


def _plus(a, b):
    """A helper the task does not mention."""
    return a + b
'''


def test_a_docstring_copied_from_the_task_is_left_out_and_the_code_kept() -> None:
    shown = without_copied_docstrings(SOLUTION, TASK)
    assert shown.startswith("def add(a: int, b: int) -> int:\n    return _plus(a, b)\n")
    assert "Return the sum" not in shown
    assert '"""A helper the task does not mention."""\n    return a + b' in shown


def test_the_review_prompt_shows_the_task_once_and_the_whole_logic() -> None:
    attempt = {"code": SOLUTION, "tests": "def test_add():\n    assert add(2, 3) == 5\n",
               "report": None, "checks": []}
    [_, user] = ChatPrompts().review(TASK, attempt)  # type: ignore[arg-type]
    assert user.text.count("Return the sum of a and b.") == 1
    assert "return _plus(a, b)" in user.text and "return a + b" in user.text


def test_code_that_does_not_parse_or_is_only_a_docstring_is_shown_whole() -> None:
    broken = 'def add(a, b):\n    """Return the sum of a and b."""\n    return a +\n'
    assert without_copied_docstrings(broken, TASK) == broken.strip()
    stub = 'def add(a, b):\n    """Return the sum of a and b."""\n'
    assert without_copied_docstrings(stub, TASK) == stub.strip()
