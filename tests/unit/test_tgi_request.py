"""What codeloop sends to TGI and how it reads replies: pure functions, no server."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from codeloop.models.tgi import family_for, split_spec
from codeloop.models.tgi_client import sse_events
from codeloop.models.tgi_request import (
    Options,
    StopTrimmer,
    chat_body,
    completion_prompt,
    finish_reason,
    generate_body,
    trim_at_stop,
)

GREEDY = Options(temperature=0.0, max_new_tokens=64, seed=0, stop=["\nif __name__"])


def test_greedy_call_switches_sampling_off_and_sends_no_temperature_or_seed():
    params = generate_body("def f", GREEDY)["parameters"]
    assert params["do_sample"] is False
    assert "temperature" not in params and "seed" not in params
    assert params["max_new_tokens"] == 64
    assert params["stop"] == ["\nif __name__"]
    assert params["details"] is True and params["return_full_text"] is False


def test_sampling_call_sends_temperature_and_a_seed_above_zero():
    params = generate_body("x", Options(0.7, 10, seed=0, stop=[]))["parameters"]
    assert (params["do_sample"], params["temperature"], params["seed"]) == (True, 0.7, 1)
    assert "stop" not in params


def test_json_schema_becomes_tgi_json_grammar():
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}}
    params = generate_body("x", Options(0.0, 10, 0, [], json_schema=schema))["parameters"]
    assert params["grammar"] == {"type": "json", "value": schema}
    body = chat_body([HumanMessage("x")], Options(0.0, 10, 0, [], json_schema=schema), stream=True)
    assert body["response_format"] == {"type": "json", "value": schema}
    assert body["stream_options"] == {"include_usage": True}


def test_chat_body_keeps_roles_and_order():
    body = chat_body([SystemMessage("s"), HumanMessage("u"), AIMessage("a")], GREEDY, stream=False)
    assert body["messages"] == [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "u"},
        {"role": "assistant", "content": "a"},
    ]
    assert body["stream"] is False and "stream_options" not in body


def test_completion_prompt_joins_messages_and_a_trailing_ai_message_starts_the_reply():
    prompt, prefix = completion_prompt([HumanMessage("# task\n\n"), AIMessage("def test_")])
    assert (prompt, prefix) == ("# task\n\ndef test_", "def test_")
    assert completion_prompt([HumanMessage("a"), HumanMessage("b")]) == ("ab", "")


@pytest.mark.parametrize(
    ("tgi", "langchain"),
    [("length", "length"), ("eos_token", "stop"), ("stop_sequence", "stop"), (None, None)],
)
def test_finish_reason_mapping(tgi, langchain):
    assert finish_reason(tgi) == langchain


def test_stop_trimmer_cuts_a_stop_split_across_tokens_and_shows_nothing_after_it():
    trimmer = StopTrimmer(["\nif __name__"])
    shown = [trimmer.feed(t) for t in ["def f():\n    return 1\n", "\nif", " __na", "me__ =="]]
    shown.append(trimmer.finish())
    assert "".join(shown) == "def f():\n    return 1\n"
    assert "if" not in "".join(shown[1:])


def test_stop_trimmer_releases_held_text_when_no_stop_comes():
    trimmer = StopTrimmer(["<filename>"])
    assert trimmer.feed("abc<") == ""  # could be the start of "<filename>"
    assert trimmer.feed("b>") + trimmer.finish() == "abc<b>"


def test_trim_at_stop_takes_the_earliest_stop():
    assert trim_at_stop("x = 1\nprint(x)\nif __name__", ["\nif __name__", "\nprint("]) == "x = 1"
    assert trim_at_stop("x = 1", []) == "x = 1"


def test_sse_events_reads_tgi_and_openai_style_events():
    lines = [
        ": keep-alive",
        'data:{"token": {"text": "a"}}',
        "",
        'data: {"token": {"text": "b"}}',
        "",
        "data: [DONE]",
        "",
        'data:{"never": "read"}',
    ]
    assert list(sse_events(lines)) == [{"token": {"text": "a"}}, {"token": {"text": "b"}}]


def test_sse_events_joins_multi_line_data_and_reads_a_last_event_without_blank_line():
    assert list(sse_events(['data: {"a":', "data: 1}"])) == [{"a": 1}]


@pytest.mark.parametrize(
    ("model_id", "family"),
    [
        ("bigcode/starcoderbase-7b", "starcoder"),
        ("bigcode/starcoder2-15b", "starcoder"),
        ("/data/models/starcoderbase-7b/", "starcoder"),
        ("bigcode/starcoder2-15b-instruct-v0.1", "chat"),
        ("meta-llama/Llama-3.1-8B-Instruct", "chat"),
        ("Qwen/Qwen2.5-Coder-7B-Instruct", "chat"),
    ],
)
def test_family_from_model_id(model_id, family):
    assert family_for(model_id) == family


def test_split_spec_takes_the_family_parameter_off_the_url():
    assert split_spec("http://h:8080") == ("http://h:8080", None)
    assert split_spec("http://h:8080/?family=starcoder") == ("http://h:8080", "starcoder")
    with pytest.raises(ValueError, match="unknown TGI spec parameter"):
        split_spec("http://h:8080?famliy=chat")
