"""review: a structured verdict from the model; approval also needs every check to pass.

A review is asked for only when the attempt could be approved (nodes.checks
ready_for_review): every trusted check passes and every test passes but for refuted
model checks. Otherwise the checks already say what is wrong, and a reviewer, who could
not approve anyway, would only cost a model call.
"""

from __future__ import annotations

import json
import time

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field, ValidationError

from codeloop.context import Context, context_of
from codeloop.models import chat_model
from codeloop.nodes.checks import ready_for_review
from codeloop.nodes.common import call_model, prompts_for
from codeloop.state import Attempt, State
from codeloop.tracing import call_config


class Verdict(BaseModel):
    """The reviewer's decision on one attempt.

    Field order matters: constrained decoding writes fields in schema order, and a small
    model that lists the issues first gives a score and decision consistent with them.
    """

    issues: list[str] = Field(default_factory=list)
    suggestions: list[str] = Field(default_factory=list)
    score: int = Field(ge=0, le=10)
    approved: bool


def verdict_schema() -> dict[str, object]:
    """JSON schema for constrained decoding; the score as an enum, which grammars enforce."""
    schema = Verdict.model_json_schema()
    schema["properties"]["score"] = {"type": "integer", "enum": list(range(11))}
    schema["required"] = list(Verdict.model_fields)
    return schema


def review(state: State, runtime: Runtime[Context]) -> dict[str, object]:
    """Judge the current attempt and record it; a reviewer cannot approve failing checks."""
    ctx = context_of(runtime.context)
    attempt = state["current"]
    started = time.monotonic()
    tokens = dict(attempt["tokens"])
    verdict, problem = None, None
    ready = ready_for_review(attempt)
    if ready:
        verdict, problem = _ask_reviewer(ctx, state["task"], attempt, tokens)
    approved = bool(
        verdict and ready and verdict.approved and verdict.score >= ctx.review_threshold
    )
    seconds = {**attempt["seconds"], "review": round(time.monotonic() - started, 3)}
    done: Attempt = {
        **attempt,
        "tokens": tokens,
        "seconds": seconds,
        "review_error": problem,
        "approved": approved,
    }
    if verdict is not None:
        done["verdict"] = verdict.model_dump()  # type: ignore[typeddict-item]
    return {"current": done, "attempts": [done]}


def _ask_reviewer(
    ctx: Context, task: str, attempt: Attempt, tokens: dict[str, int]
) -> tuple[Verdict | None, str | None]:
    """One verdict request, plus one repair request if the first reply does not validate."""
    model = chat_model(ctx, "reviewer")
    prompts = prompts_for(model)
    messages: list[BaseMessage] = prompts.review(task, attempt)
    problem = "no reply"
    for step in ("verdict", "verdict repair"):
        config = call_config(step, attempt["iteration"])
        reply = _call(model, messages, ctx, tokens, list(prompts.stop), config)
        verdict, problem = parse_verdict(reply.text)
        if verdict is not None:
            return verdict, None
        messages = [*messages, reply, prompts.repair(problem)]
    return None, f"the reviewer's verdict was unusable twice ({problem}): not approved"


def _call(model: BaseChatModel, messages: list[BaseMessage], ctx: Context,
          tokens: dict[str, int], stop: list[str], config: RunnableConfig) -> AIMessage:
    reply = call_model(
        model, messages, stop=stop, temperature=0.0, max_tokens=400,
        json_schema=verdict_schema(), timeout=ctx.model_timeout, config=config,
    )
    usage = reply.usage_metadata
    if usage:
        tokens["prompt"] = tokens.get("prompt", 0) + usage["input_tokens"]
        tokens["completion"] = tokens.get("completion", 0) + usage["output_tokens"]
    return reply


def parse_verdict(text: str) -> tuple[Verdict | None, str]:
    """Validate a reply as a Verdict; on failure, a short reason for the repair prompt."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        return None, "the reply contains no JSON object"
    try:
        return Verdict.model_validate(json.loads(text[start : end + 1])), ""
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON ({exc.msg})"
    except ValidationError as exc:
        first = exc.errors()[0]
        return None, f"field {'.'.join(map(str, first['loc'])) or 'verdict'}: {first['msg']}"
