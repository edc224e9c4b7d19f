"""Parsing a model's reply into solution and tests, whatever shape the reply takes."""

from __future__ import annotations

from codeloop.nodes.extract import TEST_HEADER, extract

CODE = "def add(a, b):\n    return a + b\n"


def test_two_blocks_with_prose() -> None:
    reply = (
        "Sure! Here is the code:\n```python\n" + CODE + "```\nAnd tests:\n```py\n"
        "from solution import add\n\ndef test_add():\n    assert add(1, 2) == 3\n```\nHope it helps."
    )
    found = extract(reply)
    assert found.error is None
    assert found.code.strip() == CODE.strip()
    assert found.tests.startswith(TEST_HEADER)
    assert "def test_add():\n    assert add(1, 2) == 3" in found.tests
    assert "from solution import add" not in found.tests  # replaced by the header's import


def test_one_block_holding_code_and_tests() -> None:
    reply = "```python\nimport math\n\n" + CODE + "\ndef test_add():\n    assert add(2, 2) == 4\n```"
    found = extract(reply)
    assert "def test_add" not in found.code and "def add" in found.code
    assert "import math" in found.code and "import math" in found.tests


def test_tests_that_paste_the_solution_keep_only_tests() -> None:
    reply = "```python\n" + CODE + "```\n```python\n" + CODE + "\ndef test_add():\n    assert add(1, 1) == 2\n```"
    found = extract(reply)
    assert found.tests.count("def add") == 0
    assert found.code.count("def add") == 1


def test_later_definition_wins() -> None:
    reply = "```python\ndef f():\n    return 1\n```\n```python\ndef f():\n    return 2\n\ndef test_f():\n    assert f() == 2\n```"
    assert "return 2" in extract(reply).code and "return 1" not in extract(reply).code


def test_no_fences_but_plain_python() -> None:
    found = extract(CODE + "\n\ndef test_add():\n    assert add(1, 2) == 3\n")
    assert found.error is None and "def add" in found.code


def test_prose_only_is_an_error() -> None:
    assert extract("I cannot help with that.").error == "the reply contains no Python code"


def test_tests_without_code_is_an_error() -> None:
    found = extract("```python\ndef test_x():\n    assert 1\n```")
    assert found.error == "the reply has no solution code (no function or class)"


def test_code_without_tests_is_code_alone() -> None:
    found = extract("```python\n" + CODE + "```")
    assert found.error is None and found.tests == ""
    assert "def add" in found.code


def test_truncated_block_is_salvaged_up_to_the_last_complete_statement() -> None:
    reply = "```python\n" + CODE + "\ndef test_a():\n    assert add(1, 2) == 3\n\ndef test_b():\n    assert add(1,"
    found = extract(reply)
    assert found.error is None
    assert "test_a" in found.tests and "test_b" not in found.tests


def test_a_test_the_token_limit_cut_into_valid_code_is_dropped() -> None:
    # Cut after `correct_br`: still Python (a bare name), but not the test the model meant.
    cut = "\ndef test_b():\n    with pytest.raises(ValueError):\n        ad"
    found = extract("```python\n" + CODE + "\ndef test_a():\n    assert add(1, 2) == 3\n" + cut)
    assert "test_a" in found.tests and "test_b" not in found.tests
    closed = extract("```python\n" + CODE + "\ndef test_a():\n    assert add(1, 2) == 3\n```")
    assert "test_a" in closed.tests  # a block that ends with its fence is whole


def test_a_test_comparing_to_an_error_class_is_rewritten_as_meant() -> None:
    # As written it can never pass; the model meant that the call raises.
    reply = (
        "```python\n" + CODE + "\ndef test_one():\n    assert add(0, 0) == ValueError\n\n"
        "def test_two():\n    assert add(1, 1) == 2\n    assert add(0, 0) == ValueError\n```"
    )
    tests = extract(reply).tests
    assert "def test_one():\n    with pytest.raises(ValueError):\n        add(0, 0)" in tests
    assert "def test_two_2():\n    with pytest.raises(ValueError):\n        add(0, 0)" in tests
    assert "== ValueError" not in tests


def test_a_closed_block_followed_by_an_unclosed_shell_block_keeps_its_last_test() -> None:
    reply = "```python\n" + CODE + "\ndef test_a():\n    assert add(1, 2) == 3\n```\nRun:\n```bash\npytest\n"
    assert "def test_a" in extract(reply).tests


def test_raises_blocks_that_assign_the_result_are_split_too() -> None:
    reply = (
        "```python\n" + CODE + "\ndef test_add():\n    assert add(1, 1) == 2\n"
        "    with pytest.raises(TypeError):\n        result = add(1, 'x')\n```"
    )
    tests = extract(reply).tests
    assert "def test_add_2():\n    with pytest.raises(TypeError):\n        result = add(1, 'x')" in tests


def test_repeated_and_contradicting_asserts_are_split_and_deduplicated() -> None:
    reply = (
        "```python\n" + CODE + "\ndef test_add():\n    assert add(1, 1) == 2\n"
        "    assert add(1, 1) == 3\n    assert add(2, 2) == 4\n    assert add(2, 2) == 4\n```"
    )
    tests = extract(reply).tests
    assert "def test_add_1():\n    assert add(1, 1) == 2" in tests
    assert "def test_add_2():\n    assert add(2, 2) == 4" in tests
    assert "== 3" not in tests and "test_add_3" not in tests


def test_a_test_of_asserts_and_raises_blocks_is_split_into_one_test_per_check() -> None:
    reply = (
        "```python\n" + CODE + "\ndef test_add():\n    assert add(1, 1) == 2\n"
        "    with pytest.raises(TypeError):\n        add(1, 'x')\n"
        "    with pytest.raises(TypeError):\n        add(1, 'x')\n"
        "    assert add(1, 1) == 3\n"
        "\ndef test_add_1():\n    assert add(0, 0) == 0\n"
        "\ndef test_setup():\n    with pytest.raises(TypeError):\n        add(1, 'x')\n"
        "    numbers = [1, 2]\n    assert add(*numbers) == 3\n"
        "\ndef test_message():\n    with pytest.raises(TypeError) as error:\n        add(1, 'x')\n"
        "    assert 'str' in str(error.value)\n```"
    )
    tests = extract(reply).tests
    assert "def test_add_2():\n    assert add(1, 1) == 2" in tests
    assert "def test_add_3():\n    with pytest.raises(TypeError):\n        add(1, 'x')" in tests
    assert "== 3" not in tests.split("def test_setup")[0]  # repeats of a call are dropped
    assert "test_add_4" not in tests
    assert "def test_add_1():\n    assert add(0, 0) == 0" in tests  # the model's own, kept
    assert "def test_setup():\n    with pytest.raises" in tests  # not only checks: kept whole
    assert "def test_message():\n    with pytest.raises(TypeError) as error:" in tests


def test_main_guard_and_top_level_calls_are_dropped() -> None:
    reply = "```python\n" + CODE + "\nprint(add(1, 2))\nif __name__ == '__main__':\n    add(1, 2)\n\ndef test_add():\n    assert add(0, 0) == 0\n```"
    found = extract(reply)
    assert "print" not in found.code and "__main__" not in found.code


def test_fixtures_and_test_classes_go_to_tests() -> None:
    reply = (
        "```python\nimport pytest\n" + CODE + "\n@pytest.fixture\ndef numbers():\n    return (1, 2)\n\n"
        "class TestAdd:\n    def test_it(self, numbers):\n        assert add(*numbers) == 3\n```"
    )
    found = extract(reply)
    assert "@pytest.fixture" in found.tests and "class TestAdd" in found.tests
    assert "fixture" not in found.code and "import pytest" not in found.code


def test_tests_reply_never_replaces_the_solution() -> None:
    solution = "```python\ndef add(a, b):\n    return a + b\n```"
    tests = (
        "```python\ndef add(a, b):\n    return a - b\n\ndef helper():\n    return 3\n\n"
        "def test_add():\n    assert add(1, 2) == helper()\n```"
    )
    found = extract(solution, tests)
    assert "return a + b" in found.code and "a - b" not in found.code
    assert "a - b" not in found.tests
    assert "def helper" in found.tests and "def helper" not in found.code


def test_solution_found_only_in_the_tests_reply_is_used() -> None:
    found = extract("I will write it below.", "```python\n" + CODE + "\ndef test_add():\n    assert add(1, 1) == 2\n```")
    assert found.error is None and "def add" in found.code


def test_reply_cut_off_inside_a_deeply_nested_literal_is_salvaged_not_a_crash() -> None:
    # Seen on the prose benchmark: an example nested past ~200 brackets makes Python's
    # parser raise MemoryError (not SyntaxError); the run crashed instead of salvaging.
    deep = "nested = " + "[1, " * 205
    found = extract(f"```python\n{CODE}\n# Example usage:\n{deep}\n")
    assert found.error is None and found.code.strip() == CODE.strip()
    closed = "nested = " + "[1, " * 300 + "]" * 300
    assert extract(f"```python\n{CODE}\n{closed}\n```").code.startswith(CODE.strip())
