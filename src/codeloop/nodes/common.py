"""What the model-calling nodes share: the prompt family of a model and one guarded call."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage

from codeloop.context import Context
from codeloop.nodes.enough import Enough
from codeloop.prompts import PromptSet, prompt_set


def prompts_for(model: BaseChatModel) -> PromptSet:
    """The prompt family the model declares (`prompt_family`), chat by default."""
    return prompt_set(getattr(model, "prompt_family", "chat"))


def sampling(ctx: Context, salt: int) -> dict[str, Any]:
    """Temperature, seed and timeout of a solution call: attempt `salt` (0 for the first).

    A retry samples at `retry_temperature` at least, with a seed of its own, so it
    explores rather than repeating the attempt the tests rejected.
    """
    temperature = ctx.temperature if salt == 0 else max(ctx.temperature, ctx.retry_temperature)
    return {"temperature": temperature, "seed": ctx.seed + salt, "timeout": ctx.model_timeout}


def call_model(
    model: BaseChatModel, messages: list[BaseMessage], enough: Enough | None = None,
    **options: Any,
) -> AIMessage:
    """Invoke the model with per-call options; the reply as one AIMessage.

    With `enough` (nodes.enough), the reply ends where it has said all the loop uses: a
    model that `stops_early` stops writing there, any other reply is cut afterwards.
    """
    if enough is not None and getattr(model, "stops_early", False):
        options["enough"] = enough
    reply = model.invoke(messages, **options)
    if not isinstance(reply, AIMessage):
        raise TypeError(f"the model returned {type(reply).__name__}, not an AIMessage")
    return reply if enough is None else cut_reply(reply, enough)


def cut_reply(reply: AIMessage, enough: Enough) -> AIMessage:
    """The reply up to where `enough` says it has said all the loop uses (whole if never)."""
    kept = enough(reply.text)
    return reply if kept is None else reply.model_copy(update={"content": kept})
