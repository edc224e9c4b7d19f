"""A retry's reply begun with the task's stub, for a model that continues replies."""

from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage

from codeloop.graph import graph
from codeloop.models.scripted import ScriptedChatModel
from codeloop.nodes.extract import begun_solution
from tests.helpers import ScriptedContext
from tests.helpers import reply_with_code as reply_code
from tests.helpers import reply_with_verdict as reply_verdict

TASK = ('def double(x):\n    """Double x.\n    >>> double(2)\n    4\n'
        '    >>> double(0)\n    0\n    """\n')
WRONG = "def double(x):\n    return x * 3\n"


def test_a_stub_task_begins_a_code_block_holding_it() -> None:
    assert begun_solution(TASK) == f"```python\n{TASK.strip()}\n"
    helper_then_stub = f"def half(x):\n    return x / 2\n\n\n{TASK}"
    assert begun_solution(helper_then_stub) == f"```python\n{helper_then_stub.strip()}\n"


def test_prose_or_code_that_is_no_stub_begins_nothing() -> None:
    assert begun_solution("Write double(x) returning twice x.") == ""
    assert begun_solution("def double(x):\n    return 2 * x\n") == ""
    assert begun_solution(f"{TASK}\n\ndef half(x):\n    return x / 2\n") == ""
    assert begun_solution("def double(x:\n") == ""


def run(model: ScriptedChatModel) -> dict:
    return graph.invoke({"task": TASK}, context=ScriptedContext(scripted=model, max_iterations=2))


def test_a_retry_is_begun_with_the_stub_and_the_model_writes_the_body() -> None:
    body = "    return x * 2\n```\nIt doubles x."
    model = ScriptedChatModel(script=[reply_code(WRONG), body, reply_verdict(True, 9)],
                              continues_replies=True)
    out = run(model)
    first, retry = model.prompts[0], model.prompts[1]
    assert isinstance(first[-1], HumanMessage)  # the first attempt is asked as a single call
    assert isinstance(retry[-1], AIMessage) and retry[-1].text == begun_solution(TASK)
    assert isinstance(retry[-2], HumanMessage) and "6 == 4" in retry[-2].text  # the findings
    assert out["status"] == "approved"
    code = out["attempts"][1]["code"]
    assert code.startswith("def double(x):") and code.rstrip().endswith("return x * 2")


def test_a_model_that_cannot_continue_is_asked_as_before() -> None:
    model = ScriptedChatModel(script=[reply_code(WRONG), reply_code("def double(x):\n    return 2 * x\n"),
                                      reply_verdict(True, 9)])
    out = run(model)
    assert isinstance(model.prompts[1][-1], HumanMessage)
    assert out["status"] == "approved"
