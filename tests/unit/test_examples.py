"""Examples written in a task become tests of their own."""

from __future__ import annotations

from codeloop.nodes.examples import is_example
from codeloop.nodes.stated import given_tests

CODE = "def below_zero(ops):\n    return False\n\ndef mean(xs):\n    return 0.0\n"


def test_doctest_examples() -> None:
    task = '"""\n>>> below_zero([1, 2, 3])\nFalse\n>>> below_zero([1, -4])\nTrue\n"""'
    tests = given_tests(task, CODE)
    assert "def test_task_example_1():\n    assert below_zero([1, 2, 3]) == False" in tests
    assert "def test_task_example_2():\n    assert below_zero([1, -4]) == True" in tests


def test_inline_examples_and_floats() -> None:
    task = "For example:\nmean([1, 2]) == 1.5\nbelow_zero([-1]) ==> True\n"
    tests = given_tests(task, CODE)
    assert "assert mean([1, 2]) == pytest.approx(1.5)" in tests
    assert "assert below_zero([-1]) == True" in tests


def test_only_functions_the_solution_defines() -> None:
    task = ">>> other(1)\n2\n>>> below_zero([])\nFalse\n"
    tests = given_tests(task, CODE)
    assert "other" not in tests and "test_task_example_1" in tests


def test_unparseable_examples_are_skipped() -> None:
    task = ">>> below_zero([1, 2\nFalse\n>>> mean([1])\n<object at 0x1>\n"
    assert given_tests(task, CODE) == ""


def test_no_code_no_tests() -> None:
    assert given_tests(">>> below_zero([])\nFalse\n", "def broken(:") == ""


def test_is_example() -> None:
    assert is_example("test_task_example_3") and not is_example("test_add")


def test_loosely_written_examples_are_skipped() -> None:
    task = "below_zero(a) => False\nbelow_zero([1]) == (False)\nbelow_zero([1]) == False\n"
    tests = given_tests(task, CODE)
    assert tests.count("def test_task_example") == 1
    assert "below_zero([1]) == False" in tests and "(a)" not in tests


def test_input_output_sections_pass_their_values_by_position() -> None:
    code = "def fill(grid, capacity):\n    return 0\n"
    task = (
        "Example 1:\n    Input: grid = [[0,1], [1,1]], capacity = 2\n    Output: 2 # two trips\n"
        "Example 2:\n    Input:\n        grid : [[1]]\n        bucket_capacity : 1\n    Output: 1\n"
        "Example 3:\n    Input: [[1]]\n    Output: 1\n"  # one value for two parameters: skipped
    )
    tests = given_tests(task, code)
    assert "def test_task_example_1():\n    assert fill([[0, 1], [1, 1]], 2) == 2\n" in tests
    assert "def test_task_example_2():\n    assert fill([[1]], 1) == 1\n" in tests
    assert "test_task_example_3" not in tests


def test_input_values_named_as_the_parameters_go_where_their_parameter_is() -> None:
    code = "def fill(grid, capacity=1, memo=None):\n    return 0\n"
    task = ("Input: capacity = 2, grid = [[1]]\nOutput: 1\n\n"
            "Input: [[1]]\nOutput: 1\n\n"  # the parameters with defaults may be left out
            "Input: *[[1], 2]\nOutput: 1\n")
    tests = given_tests(task, code)
    assert "def test_task_example_1():\n    assert fill([[1]], 2) == 1\n" in tests
    assert "def test_task_example_2():\n    assert fill([[1]]) == 1\n" in tests
    assert "test_task_example_3" not in tests


def test_input_output_examples_follow_the_tasks_signature_not_the_attempts() -> None:
    task = 'def fill(grid, capacity):\n    """\n    Input: [[1]], 2\n    Output: 1\n    """\n'
    code = "def fill(grid, capacity, memo, depth):\n    return 0\n"  # required extras
    assert "assert fill([[1]], 2) == 1" in given_tests(task, code)


ROUNDED = "def closest(value):\n    return 0\n"


def test_an_example_sentence_broken_across_lines_is_read() -> None:
    task = ('def closest(value):\n    """Round half away from zero. For example closest("14.5") should\n'
            '    return 15 and closest("-14.5") should return -15.\n    """\n')
    tests = given_tests(task, ROUNDED)
    assert "assert closest(\"14.5\") == 15\n" in tests
    assert "assert closest(\"-14.5\") == -15\n" in tests
    spaced = given_tests('closest("x") returns\n  "a  b", not "a b".', ROUNDED)
    assert "assert closest(\"x\") == \"a  b\"\n" in spaced  # only the line break is undone


def test_a_call_over_several_lines_is_read_as_one_line() -> None:
    task = ('def total(grid, x):\n    """Examples:\n    total([\n      [1, 2],\n      [3, 4]\n'
            '    ], 1) == 10\n    total([], 1) == 0\n    """\n')
    tests = given_tests(task, "def total(grid, x):\n    return 0\n")
    assert "assert total([[1, 2], [3, 4]], 1) == 10\n" in tests
    assert "assert total([], 1) == 0\n" in tests and tests.count("def test_task_example") == 2


def test_a_value_followed_by_arithmetic_or_words_is_read_only_when_it_is_the_answer() -> None:
    task = ('def closest(value):\n    """\n    closest("19.2") -> 19 - 0 = 19\n'
            "    closest(\"1.5\") # => 2 (halves go up)\n    \"\"\"\n")
    tests = given_tests(task, ROUNDED)
    assert "19" not in tests  # the arithmetic's first term is not the answer
    assert "assert closest(\"1.5\") == 2\n" in tests
