"""Where a reply has said enough: the solution's block, a block of tests, a number of checks."""

from __future__ import annotations

from langchain_core.messages import HumanMessage

from codeloop.models.local import LlamaChatModel
from codeloop.models.scripted import ScriptedChatModel
from codeloop.nodes.common import call_model
from codeloop.nodes.enough import checks_allowed, enough_solution, enough_tests
from codeloop.nodes.extract import extract
from tests.helpers import CharEngine

CODE = "```python\ndef add(a, b):\n    return a + b\n```"
EXPLAINED = f"Here is the function:\n\n{CODE}\n\n### Explanation\nIt adds `a` and `b`.\n"
RUNAWAY = "```python\nfrom solution import *\n\ndef test_add():\n" + "".join(
    f"    assert add({n}, 1) == {n + 1}\n" for n in range(20)
)


def test_the_solution_ends_with_its_first_block_that_defines_something() -> None:
    assert enough_solution(EXPLAINED) == f"Here is the function:\n\n{CODE}"
    assert enough_solution("```bash\npip install x\n```\nthen") is None
    assert enough_solution("```python\nx = 1\n```\n\n" + CODE + "\nmore") == "```python\nx = 1\n```\n\n" + CODE
    assert enough_solution("```python\ndef add(a, b):\n    return a + b\n") is None  # still open


def test_a_closed_block_of_tests_is_enough() -> None:
    reply = "```python\ndef test_add():\n    assert add(1, 2) == 3\n```\n\nThese tests check..."
    assert enough_tests(6)(reply) == reply[: reply.index("```\n\n") + 3]
    assert enough_tests(6)("```python\ndef helper():\n    pass\n```\nand") is None


def test_tests_past_the_limit_are_cut_before_the_extra_check_and_the_block_is_closed() -> None:
    assert enough_tests(6)(RUNAWAY[:200]) is None
    kept = enough_tests(6)(RUNAWAY)
    assert kept is not None and kept.endswith("== 6\n```")
    assert kept.count("assert") == 6
    tests = extract(CODE, kept).tests
    assert tests.count("def test_add_") == 6


def test_a_test_function_with_no_check_yet_goes_with_the_cut() -> None:
    reply = "```python\n" + "".join(
        f"def test_{n}():\n    \"\"\"Case {n}.\"\"\"\n    assert add({n}, 0) == {n}\n\n" for n in range(4)
    )
    kept = enough_tests(3)(reply)
    assert kept is not None and "def test_3" not in kept and kept.count("assert") == 3


def test_each_stated_rule_gets_room_for_two_checks() -> None:
    assert checks_allowed(0) == 6 and checks_allowed(4) == checks_allowed(0) + 8


def test_a_model_that_cannot_stop_early_has_its_reply_cut_afterwards() -> None:
    model = ScriptedChatModel(script=[EXPLAINED])
    reply = call_model(model, [HumanMessage("add")], enough=enough_solution)
    assert reply.text == f"Here is the function:\n\n{CODE}"
    assert "enough" not in model.options[0]


def test_the_embedded_model_stops_writing_once_enough_is_said() -> None:
    engine = CharEngine(EXPLAINED)
    model = LlamaChatModel(engine)  # type: ignore[arg-type]
    reply = call_model(model, [HumanMessage("add")], enough=enough_solution)
    assert reply.text == f"Here is the function:\n\n{CODE}"
    assert engine.pulled == len(reply.text)  # not one character past the closing fence
    assert reply.usage_metadata is not None and reply.usage_metadata["output_tokens"] == engine.pulled
    assert reply.response_metadata["finish_reason"] == "stop"
