"""What codeloop asks TGI for and how it reads the reply, as pure functions (no I/O).

Completion models (StarCoder) get one prompt: the messages' texts joined in order, the
prompt family having written them to read as one file. A trailing AI message is the
start of the reply: the model continues it, and the reply returned includes it (so a
prompt can make a base model begin with `def test_`). Chat models get the messages as
they are, through TGI's OpenAI-style chat route (langchain-huggingface converts them).

What no library does for us stays here: stop sequences cut from a streamed reply even
when one is split across tokens (TGI's text includes the stop sequence).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage

FINISH_REASON = {"length": "length", "eos_token": "stop", "stop_sequence": "stop"}


@dataclass(frozen=True)
class Options:
    """One call's sampling settings, after the model's defaults are applied."""

    temperature: float
    max_new_tokens: int
    seed: int
    stop: list[str]
    json_schema: dict[str, Any] | None = None


def completion_prompt(messages: list[BaseMessage]) -> tuple[str, str]:
    """Return the prompt for a completion model and the reply's given start (or `""`)."""
    prompt = "".join(m.text for m in messages)
    prefix = messages[-1].text if messages and isinstance(messages[-1], AIMessage) else ""
    return prompt, prefix


def generation_parameters(options: Options) -> dict[str, Any]:
    """Keyword arguments for `InferenceClient.text_generation`.

    Temperature 0 means greedy decoding: TGI rejects a temperature of 0 (it must be
    strictly positive), so sampling is switched off instead. TGI's OpenAPI description
    requires a seed above 0, so the run's seed n is sent as n + 1; a seed only matters
    when sampling, so it is sent only then.
    """
    parameters: dict[str, Any] = {
        "max_new_tokens": options.max_new_tokens,
        "return_full_text": False,
        "do_sample": options.temperature > 0,
    }
    if options.temperature > 0:
        parameters["temperature"] = options.temperature
        parameters["seed"] = options.seed + 1
    if options.stop:
        parameters["stop"] = options.stop
    if options.json_schema is not None:
        parameters["grammar"] = {"type": "json", "value": options.json_schema}
    return parameters


def chat_parameters(options: Options) -> dict[str, Any]:
    """Keyword arguments for the chat route (`ChatHuggingFace`); TGI is greedy at temperature 0.

    A verdict's schema goes as TGI's own grammar, `{"type": "json", "value": schema}`:
    langchain-huggingface's `with_structured_output(method="json_schema")` sends
    `{"type": "json_object", "schema": ...}`, which TGI's chat route rejects (422).
    """
    parameters: dict[str, Any] = {
        "max_tokens": options.max_new_tokens,
        "temperature": options.temperature,
        "seed": options.seed,
    }
    if options.json_schema is not None:
        parameters["response_format"] = {"type": "json", "value": options.json_schema}
    return parameters


def finish_reason(tgi_reason: str | None) -> str | None:
    """TGI's finish reason in LangChain's terms: `length` when cut off, else `stop`."""
    if tgi_reason is None:
        return None
    return FINISH_REASON.get(tgi_reason, tgi_reason)


class StopTrimmer:
    """Cut streamed text at the first stop sequence; TGI's own text includes it.

    Text that might be the start of a stop sequence is held back until the next piece
    shows whether it is, so a streamed reply never shows text the final reply drops.
    """

    def __init__(self, stops: list[str]) -> None:
        self.stops = [s for s in stops if s]
        self.hold = max((len(s) for s in self.stops), default=1) - 1
        self.pending = ""
        self.stopped = False

    def feed(self, text: str) -> str:
        """Return the part of `text` (plus what was held back) that is safe to show now."""
        if self.stopped:
            return ""
        self.pending += text
        cut = self._first_stop()
        if cut is not None:
            self.stopped = True
            out, self.pending = self.pending[:cut], ""
            return out
        keep = len(self.pending) - self.hold
        if keep <= 0:
            return ""
        out, self.pending = self.pending[:keep], self.pending[keep:]
        return out

    def finish(self) -> str:
        """Whatever is still held back, once the stream has ended."""
        out, self.pending = self.pending, ""
        return "" if self.stopped else out

    def _first_stop(self) -> int | None:
        found = [i for i in (self.pending.find(s) for s in self.stops) if i >= 0]
        return min(found) if found else None


def trim_at_stop(text: str, stops: list[str]) -> str:
    """`text` up to its first stop sequence (the whole text if there is none)."""
    trimmer = StopTrimmer(stops)
    return trimmer.feed(text) + trimmer.finish()
