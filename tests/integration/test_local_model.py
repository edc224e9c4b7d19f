"""The embedded llama.cpp chat model through LangChain's interface."""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from codeloop.evals.humaneval import load_problems
from codeloop.models import load_model
from codeloop.models.local import ModelTimeoutError
from codeloop.nodes.common import call_model, prompts_for
from codeloop.nodes.enough import enough_solution
from codeloop.nodes.extract import begun_solution, extract


@pytest.fixture(scope="module")
def model():
    return load_model("local")


def test_loaded_once_per_process(model) -> None:
    assert load_model("local")._engine is model._engine


def test_invoke_reports_usage_and_finish_reason(model) -> None:
    reply = model.invoke([HumanMessage("Count from 1 to 50, comma separated.")], max_tokens=8)
    assert reply.usage_metadata["output_tokens"] == 8
    assert reply.usage_metadata["input_tokens"] > 5
    assert reply.response_metadata["finish_reason"] == "length"


def test_stream_yields_chunks_that_add_up_to_the_reply(model) -> None:
    ask = [HumanMessage("Count from 1 to 50, comma separated.")]
    chunks = list(model.stream(ask, max_tokens=60, temperature=0.0, seed=1))
    reply = model.invoke(ask, max_tokens=60, temperature=0.0, seed=1)
    assert len([c for c in chunks if c.text]) >= 2  # a quarter second's tokens each
    assert "".join(c.text for c in chunks) == reply.text
    whole = sum(chunks[1:], chunks[0])
    assert whole.usage_metadata == reply.usage_metadata


def test_stop_sequence_ends_the_reply(model) -> None:
    reply = model.invoke([HumanMessage("Count from 1 to 10, comma separated.")], stop=["5"], max_tokens=60)
    assert "5" not in reply.text and "4" in reply.text
    assert reply.response_metadata["finish_reason"] == "stop"


def test_json_schema_constrains_the_reply(model) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer", "enum": [1, 2, 3]}}, "required": ["n"]}
    reply = model.invoke([HumanMessage("Pick a number and explain at length.")], json_schema=schema, max_tokens=40)
    assert json.loads(reply.text)["n"] in (1, 2, 3)


def test_timeout_stops_a_long_generation(model) -> None:
    with pytest.raises(ModelTimeoutError, match=r"took longer than 0\.5 s"):
        model.invoke([HumanMessage("Write a 2000-word essay on compilers.")], max_tokens=2000, timeout=0.5)
    assert model.invoke([HumanMessage("Say ok.")], max_tokens=5).text  # still usable afterwards


def test_a_solution_reply_stops_after_its_code_and_keeps_the_same_code(model) -> None:
    """At the retry temperature the model explains its code at length after the block."""
    ask = prompts_for(model).generation(load_problems(0, 1)[0].prompt, "", None, None)
    options = {"max_tokens": 600, "temperature": 0.7, "seed": 1}
    whole = model.invoke(ask, **options)
    short = call_model(model, ask, enough=enough_solution, **options)
    assert short.text == enough_solution(whole.text)
    assert short.text.endswith("```") and short.response_metadata["finish_reason"] == "stop"
    assert short.usage_metadata["output_tokens"] < whole.usage_metadata["output_tokens"]


def test_the_same_prompt_gives_the_same_reply_whatever_ran_before(model) -> None:
    """Reusing llama.cpp's cached prompt prefix changed this greedy reply after ~150 tokens.

    The first call reads its system message afresh, the last restores it after a call
    with another system message: the replies are the same.
    """
    prompts = prompts_for(model)
    ask = prompts.generation(load_problems(20, 1)[0].prompt, "", None, None)
    model._engine.prefixes.states.clear()
    first = model.invoke(ask, max_tokens=220, temperature=0.0).text
    model.invoke([SystemMessage("Answer in one word."), HumanMessage("Colour of snow?")], max_tokens=3)
    assert model.invoke(ask, max_tokens=220, temperature=0.0).text == first


def test_a_system_message_read_before_is_not_read_again(model, monkeypatch) -> None:
    llama, read = model._engine.llama, []
    original = llama.eval
    monkeypatch.setattr(llama, "eval", lambda tokens: (read.append(len(tokens)), original(tokens))[1])
    system = SystemMessage("You review Python code. Answer yes or no.")
    ask = [system, HumanMessage("Is `def add(a, b): return a - b` a correct add?")]
    model.invoke(ask, max_tokens=1)
    fresh = read[:2]
    read.clear()
    model.invoke(ask, max_tokens=1)
    assert len(fresh) == 2 and read[0] == fresh[1]  # the system message's part, then the rest
    assert model.invoke(ask, max_tokens=1).text == model.invoke(ask, max_tokens=1).text


def test_a_begun_reply_follows_the_conversation_as_the_chat_template_lays_it_out(model) -> None:
    """Begun with nothing, the prompt is the chat completion's own: the same greedy reply."""
    ask = prompts_for(model).generation(load_problems(2, 1)[0].prompt, "", None, None)
    chat = model.invoke(ask, max_tokens=60, temperature=0.0)
    begun = model.invoke([*ask, AIMessage("")], max_tokens=60, temperature=0.0)
    assert begun.text == chat.text
    assert begun.usage_metadata == chat.usage_metadata


def test_a_reply_begun_with_the_stub_is_continued_with_the_body(model) -> None:
    problem = load_problems(0, 1)[0]
    ask = prompts_for(model).generation(problem.prompt, "", None, None)
    start = begun_solution(problem.prompt)
    whole = call_model(model, ask, enough=enough_solution, max_tokens=600, temperature=0.0)
    body = call_model(model, [*ask, AIMessage(start)], enough=enough_solution, max_tokens=600,
                      temperature=0.0)
    assert body.text.startswith(start) and body.text.endswith("```")
    code = extract(body.text).code
    assert "def has_close_elements" in code and "return" in code.split('"""')[-1]
    assert body.usage_metadata["output_tokens"] < whole.usage_metadata["output_tokens"] - 50


def test_the_installed_build_passes_its_self_check_once(tmp_path, monkeypatch) -> None:
    """The real library decodes in a child on this CPU; the pass is kept for the next process."""
    from codeloop.models import selfcheck
    from codeloop.models.model_file import resolve_model_file

    model_path = str(resolve_model_file())
    monkeypatch.setenv("CODELOOP_CACHE_DIR", str(tmp_path))
    selfcheck._check_once.cache_clear()
    calls = []
    real_child = selfcheck._run_child
    monkeypatch.setattr(selfcheck, "_run_child", lambda path: calls.append(path) or real_child(path))
    try:
        selfcheck.check_engine(model_path)
        selfcheck._check_once.cache_clear()  # as a new process would
        selfcheck.check_engine(model_path)
    finally:
        selfcheck._check_once.cache_clear()
    assert calls == [model_path]
    assert len(list((tmp_path / "selfcheck").glob("*.ok"))) == 1


def test_the_reviewer_answers_as_many_rules_as_the_task_states(model) -> None:
    """The per-rule verdict schema (a fixed count, numbered answers, a short "where")
    compiles to llama.cpp's grammar and yields one answer per rule, in range."""
    from codeloop.nodes.review import WHERE_CHARS, parse_verdict, verdict_schema
    from codeloop.nodes.rules import stated_rules

    task = ("Write a function median(values) that returns the median of a list of numbers. "
            "The input list must not be modified. An empty list raises ValueError.")
    attempt = {"iteration": 1, "code": "def median(values):\n    values.sort()\n"
               "    return values[len(values) // 2]\n", "tests": "", "parse_error": None}
    rules = stated_rules(task)
    ask = prompts_for(model).review(task, attempt, rules)  # type: ignore[arg-type]
    reply = model.invoke(ask, json_schema=verdict_schema(len(rules)), max_tokens=600,
                         temperature=0.0)
    verdict, problem = parse_verdict(reply.text)
    assert verdict is not None, problem
    assert len(verdict.rules) == 3 and {a.rule for a in verdict.rules} <= {1, 2, 3}
    assert all(len(a.where) <= WHERE_CHARS for a in verdict.rules)
