"""What the reviewer is shown of a solution: its code without docstrings copied from the
task, its tests without the task's examples."""

from codeloop.nodes.generate import with_task_tests
from codeloop.prompts.chat import ChatPrompts, counted_tests, without_copied_docstrings

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


def test_the_tasks_examples_are_named_not_repeated_and_the_models_tests_shown() -> None:
    own = "def test_add_zero():\n    assert add(0, 7) == 7\n"
    tests, names = with_task_tests(SOLUTION, own, TASK, None)
    assert names == ["test_task_example_1"] and "add(2, 3) == 5" in tests
    shown = counted_tests({"tests": tests, "checks": []})  # type: ignore[typeddict-item]
    assert "add(2, 3) == 5" not in shown and "def test_task_example_1" not in shown
    assert "# test_task_example_1: the task's examples above (1)" in shown
    assert own.strip() in shown


def test_the_users_tests_and_the_models_are_shown_whatever_their_names() -> None:
    user = "def test_user_case():\n    assert add(1, 1) == 2\n"
    own = "def test_own_example_1():\n    assert add(4, 4) == 8\n"
    tests, _ = with_task_tests(SOLUTION, own, TASK, user)
    shown = counted_tests({"tests": tests, "checks": []})  # type: ignore[typeddict-item]
    assert "assert add(1, 1) == 2" in shown and "assert add(4, 4) == 8" in shown
    assert "add(2, 3) == 5" not in shown
