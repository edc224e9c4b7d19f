"""Several replies to one prompt from the embedded model, decoded in one llama.cpp batch."""

from __future__ import annotations

import time

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from codeloop.context import Context
from codeloop.evals.harness import SOLVERS
from codeloop.evals.humaneval import load_problems
from codeloop.models import load_model
from codeloop.models.llama_candidates import CandidateDecoder
from codeloop.models.local import ModelTimeoutError
from codeloop.nodes.common import prompts_for
from codeloop.nodes.enough import enough_solution
from codeloop.nodes.extract import begun_solution, extract


@pytest.fixture(scope="module")
def model():
    return load_model("local")


def candidates(model, messages: list, count: int, **options) -> list:
    result = model.generate([messages], candidates=count, stream=False, **options)
    return [generation.message for generation in result.generations[0]]


def begun_request(model, number: int) -> list:
    task = load_problems(number, 1)[0].prompt
    return [*prompts_for(model).generation(task, "", None, None), AIMessage(begun_solution(task))]


def test_one_greedy_candidate_is_the_reply_invoke_gives(model) -> None:
    """Same layout, same sampling: the batch path changes what is decoded together, not what."""
    ask = begun_request(model, 0)
    options = {"temperature": 0.0, "max_tokens": 300, "seed": 0, "enough": enough_solution}
    [candidate] = candidates(model, ask, 1, **options)
    reply = model.invoke(ask, **options)
    assert candidate.text == reply.text
    usage = candidate.usage_metadata
    assert usage["output_tokens"] == reply.usage_metadata["output_tokens"]
    roles = {"system": "system", "human": "user", "ai": "assistant"}
    laid_out = model._engine.prompt([{"role": roles[m.type], "content": m.text} for m in ask])
    assert usage["input_tokens"] == len(laid_out)


def test_sampled_candidates_each_continue_the_begun_reply(model) -> None:
    ask = begun_request(model, 2)
    replies = candidates(model, ask, 3, temperature=0.7, max_tokens=300, seed=5,
                               enough=enough_solution)
    assert len(replies) == 3
    for reply in replies:
        assert reply.text.startswith(ask[-1].text)  # handed back whole, begun part first
        assert "def truncate_number" in extract(reply.text).code
        assert reply.response_metadata["finish_reason"] in ("stop", "length")
        assert reply.usage_metadata["output_tokens"] > 0
    prompt = [r.usage_metadata["input_tokens"] for r in replies]
    assert prompt[0] > 100 and prompt[1:] == [0, 0]  # the prompt is read once


def test_stop_strings_and_the_token_limit_end_each_candidate(model) -> None:
    ask = [HumanMessage("Count from 1 to 30, comma separated.")]
    stopped = candidates(model, ask, 2, temperature=0.0, max_tokens=60, stop=["5"])
    assert all("5" not in r.text and "4" in r.text for r in stopped)
    assert {r.response_metadata["finish_reason"] for r in stopped} == {"stop"}
    cut = candidates(model, ask, 2, temperature=0.0, max_tokens=6)
    assert [r.usage_metadata["output_tokens"] for r in cut] == [6, 6]
    assert {r.response_metadata["finish_reason"] for r in cut} == {"length"}


def test_a_slow_batch_times_out_in_one_line_and_the_engine_stays_usable(model) -> None:
    ask = [HumanMessage("Write a 2000-word essay on compilers.")]
    with pytest.raises(ModelTimeoutError, match=r"took longer than 0\.5 s"):
        candidates(model, ask, 2, max_tokens=2000, temperature=0.7, timeout=0.5)
    with pytest.raises(ValueError, match="cannot be held to a JSON schema"):
        candidates(model, ask, 2, json_schema={"type": "object"})
    assert all(r.text for r in candidates(model, [HumanMessage("Say ok.")], 2, max_tokens=5))


def test_a_second_opinion_writes_two_and_keeps_one_by_the_tasks_example() -> None:
    """HumanEval/14: the greedy first attempt passes the example, a model test disputes it,
    so a second opinion is asked; it writes two (the default), both judged by the example."""
    problem = load_problems(14, 1)[0]
    record = SOLVERS["loop"](problem, Context(retry_candidates=1, max_iterations=2))
    first, retry = record["attempts"][:2]
    assert first["candidates"] == []
    assert len(retry["candidates"]) == 2 and set(retry["candidates"]) <= {0, 1}
    assert retry["examples"] == f"{max(retry['candidates'])}/1"  # the better one was kept


def test_replies_that_fill_the_context_end_there_and_a_prompt_that_cannot_fit_is_refused(
        model) -> None:
    engine = model._engine
    decoder = engine.thread.submit(CandidateDecoder, engine.llama, 2, 256).result()
    options = {"temperature": 0.7, "seed": 0, "max_tokens": 400, "stop": [], "enough": None,
               "deadline": time.monotonic() + 300}
    prompt = engine.prompt([{"role": "user", "content": "Write a long essay on compilers."}])
    try:
        replies = engine.thread.submit(decoder.write, prompt, 2, **options).result()
        assert [r.finish for r in replies] == ["length", "length"]
        assert len(prompt) + sum(r.tokens for r in replies) <= 256 + 2
        with pytest.raises(ValueError, match="does not fit the context"):
            engine.thread.submit(decoder.write, prompt * 10, 2, **options).result()
    finally:
        engine.thread.submit(decoder.close).result()
