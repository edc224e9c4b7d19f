"""What the model-calling nodes share: the prompt family of a model and one guarded call."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage

from codeloop.prompts import PromptSet, prompt_set


def prompts_for(model: BaseChatModel) -> PromptSet:
    """The prompt family the model declares (`prompt_family`), chat by default."""
    return prompt_set(getattr(model, "prompt_family", "chat"))


def call_model(model: BaseChatModel, messages: list[BaseMessage], **options: Any) -> AIMessage:
    """Invoke the model with per-call options; the reply as one AIMessage."""
    reply = model.invoke(messages, **options)
    if not isinstance(reply, AIMessage):
        raise TypeError(f"the model returned {type(reply).__name__}, not an AIMessage")
    return reply
