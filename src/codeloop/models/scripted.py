"""A scripted chat model for tests, benchmarks and notebooks: no weights, no network.

It answers from a list of replies in order (or from a function of the prompt) and
records every prompt it was sent, so tests can assert on what the loop asked.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, Field, PrivateAttr

Responder = Callable[[list[BaseMessage], dict[str, Any]], str]


class ScriptExhaustedError(RuntimeError):
    """The model was called more times than the script has replies."""


class ScriptedChatModel(BaseChatModel):
    """Returns scripted replies in order; `prompts` holds every message list it received."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    script: Sequence[str] | Responder
    continues_replies: bool = False
    """Like the embedded model: a reply begun in the prompt (its last message, the
    assistant's) is continued, so the scripted text is what follows the begun part."""
    writes_candidates: bool = False
    """Like the embedded model: the option `candidates` N gives N replies to one request,
    here the script's next N, reply n with the seed `seed + n`."""
    prompts: list[list[BaseMessage]] = Field(default_factory=list)
    options: list[dict[str, Any]] = Field(default_factory=list)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "codeloop-scripted"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        count = kwargs.pop("candidates", 1)
        if count == 1:
            return ChatResult(generations=[self._reply(messages, kwargs)])
        seed = kwargs.get("seed", 0)
        return ChatResult(generations=[self._reply(messages, {**kwargs, "seed": seed + n})
                                       for n in range(count)])

    def _reply(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> ChatGeneration:
        with self._lock:
            self.prompts.append(list(messages))
            self.options.append(kwargs)
            text = self._next(messages, kwargs, len(self.prompts) - 1)
        words = len(text.split())
        if self.continues_replies and isinstance(messages[-1], AIMessage):
            text = messages[-1].text + text
        message = AIMessage(
            content=text,
            usage_metadata=UsageMetadata(
                input_tokens=sum(len(m.text.split()) for m in messages),
                output_tokens=words,
                total_tokens=words,
            ),
            response_metadata={"finish_reason": "stop"},
        )
        return ChatGeneration(message=message)

    def _next(self, messages: list[BaseMessage], kwargs: dict[str, Any], index: int) -> str:
        if callable(self.script):
            return self.script(messages, kwargs)
        if index >= len(self.script):
            raise ScriptExhaustedError(f"script has {len(self.script)} replies; call {index + 1}")
        return self.script[index]
