"""What codeloop asks TGI for and how it reads replies and failures: pure functions, no server."""

from __future__ import annotations

import httpx
import pytest
from huggingface_hub.errors import (
    GenerationError,
    HfHubHTTPError,
    OverloadedError,
    UnknownError,
    ValidationError,
)
from langchain_core.messages import AIMessage, HumanMessage

from codeloop.models.tgi import family_for, split_spec
from codeloop.models.tgi_client import TGIServer, TGITimeoutError, http_failure, transient
from codeloop.models.tgi_request import (
    Options,
    StopTrimmer,
    chat_parameters,
    completion_prompt,
    finish_reason,
    generation_parameters,
    trim_at_stop,
)

GREEDY = Options(temperature=0.0, max_new_tokens=64, seed=0, stop=["\nif __name__"])


def test_greedy_call_switches_sampling_off_and_sends_no_temperature_or_seed():
    params = generation_parameters(GREEDY)
    assert params["do_sample"] is False
    assert "temperature" not in params and "seed" not in params
    assert params["max_new_tokens"] == 64
    assert params["stop"] == ["\nif __name__"]
    assert params["return_full_text"] is False


def test_sampling_call_sends_temperature_and_a_seed_above_zero():
    params = generation_parameters(Options(0.7, 10, seed=0, stop=[]))
    assert (params["do_sample"], params["temperature"], params["seed"]) == (True, 0.7, 1)
    assert "stop" not in params


def test_json_schema_becomes_tgi_json_grammar_on_both_routes():
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}}
    options = Options(0.0, 10, 0, [], json_schema=schema)
    assert generation_parameters(options)["grammar"] == {"type": "json", "value": schema}
    assert chat_parameters(options)["response_format"] == {"type": "json", "value": schema}
    assert "response_format" not in chat_parameters(GREEDY)


def test_chat_parameters_are_explicit_so_the_endpoint_defaults_never_apply():
    # HuggingFaceEndpoint defaults to temperature 0.8 and 512 new tokens.
    assert chat_parameters(GREEDY) == {"max_tokens": 64, "temperature": 0.0, "seed": 0}


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


def failed(status: int, body: object) -> HfHubHTTPError:
    """huggingface_hub's error for a reply with this status and JSON body."""
    request = httpx.Request("POST", "http://tgi/")
    response = httpx.Response(status, json=body, request=request)
    return HfHubHTTPError("failed", response=response)


def raised_from(error: Exception, cause: Exception) -> Exception:
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (OverloadedError("Model is overloaded"), True),  # inside a stream
        (failed(429, {"error": "Model is overloaded", "error_type": "overloaded"}), True),
        (raised_from(UnknownError("unhealthy"), failed(503, {"error": "unhealthy"})), True),
        (raised_from(ValidationError("too long"), failed(422, {"error": "too long"})), False),
        (GenerationError("CUDA out of memory"), False),
        (httpx.ConnectError("refused"), True),
        (httpx.ReadTimeout("slow"), False),  # a slow server is not an overloaded one
    ],
)
def test_what_is_retried(exc, expected):
    assert transient(exc) is expected


def test_tgi_error_keeps_the_status_and_tgis_message_and_kind():
    body = {"error": "Input validation error: `inputs` too long", "error_type": "validation"}
    exc = raised_from(ValidationError(body["error"]), failed(422, body))
    assert http_failure(exc) == (422, "Input validation error: `inputs` too long (validation)")
    error = TGIServer("http://tgi:8080").error("/", exc, 60)
    assert str(error) == ("TGI http://tgi:8080/: HTTP 422: Input validation error: `inputs` too "
                          "long (validation)")
    assert error.status == 422


def test_an_error_event_inside_a_stream_keeps_its_kind_and_a_retried_one_says_so():
    server = TGIServer("http://tgi:8080", attempts=3)
    assert str(server.error("/", GenerationError("CUDA OOM"), 60)) == (
        "TGI http://tgi:8080/: CUDA OOM (generation)")
    assert str(server.error("/", OverloadedError("Model is overloaded"), 60)) == (
        "TGI http://tgi:8080/: Model is overloaded (overloaded) (gave up after 3 attempts)")


def test_a_read_timeout_is_a_timeout_error_naming_the_limit():
    error = TGIServer("http://tgi:8080").error("/", httpx.ReadTimeout("slow"), 300)
    assert isinstance(error, TGITimeoutError) and isinstance(error, TimeoutError)
    assert str(error) == "TGI http://tgi:8080/: no answer within 300 s"


def test_a_failure_that_is_not_tgis_is_left_alone():
    assert TGIServer("http://tgi:8080").error("/", KeyError("bug"), 60) is None


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
