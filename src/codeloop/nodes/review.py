"""review: a structured verdict from the model; approval also needs every check to pass.

A review is asked for only when the attempt could be approved (nodes.checks
ready_for_review): every trusted check passes, every test passes but for refuted
model checks, and each of the task's stated rules has a passing test (nodes.rules).
Otherwise the checks already say what is wrong, and a reviewer, who could not approve
anyway, would only cost a model call. The reviewer answers per stated rule; one rule
not met blocks approval.
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
from codeloop.nodes.rules import rules_for, uncovered
from codeloop.state import Attempt, State, VerdictDict
from codeloop.tracing import call_config

VERDICT_TOKENS = 400
RULE_TOKENS = 30  # more for each stated rule answered
WHERE_CHARS = 60  # "where" is a pointer into the code, not a restatement of the rule


class RuleVerdict(BaseModel):
    """The reviewer's answer on one of the task's stated rules (nodes.rules)."""

    rule: int
    where: str = ""  # before `met`: a small model that points into the code first judges better
    met: bool


class Verdict(BaseModel):
    """The reviewer's decision on one attempt.

    Field order matters: constrained decoding writes fields in schema order, and a small
    model that answers each stated rule and lists the issues first gives a score and
    decision consistent with them.
    """

    rules: list[RuleVerdict] = Field(default_factory=list)
    issues: list[str] = Field(default_factory=list)
    suggestions: list[str] = Field(default_factory=list)
    score: int = Field(ge=0, le=10)
    approved: bool

    def approves(self, threshold: int, rules: int) -> bool:
        """Approved, scored at `threshold` or above, and each of the `rules` answered met."""
        return self.approved and self.score >= threshold and not self.unmet(rules)

    def unmet(self, count: int) -> list[int]:
        """The numbers of the `count` rules the reviewer did not answer as met.

        The grammar fixes how many answers there are, not that each rule gets one: a
        rule answered twice leaves another unanswered, and that one is not met.
        """
        met = {answer.rule for answer in self.rules if answer.met}
        return [number for number in range(1, count + 1) if number not in met]


def verdict_schema(rules: int = 0) -> dict[str, object]:
    """JSON schema for constrained decoding, with one answer for each of `rules` rules.

    Enums, not ranges, for the numbers: grammars enforce them. Without rules the schema
    has no "rules" field at all.
    """
    schema = Verdict.model_json_schema()
    properties = schema["properties"]
    properties["score"] = {"type": "integer", "enum": list(range(11))}
    del schema["$defs"]
    if rules:
        answer = RuleVerdict.model_json_schema()
        answer["properties"]["rule"] = {"type": "integer", "enum": list(range(1, rules + 1))}
        answer["properties"]["where"] = {"type": "string", "maxLength": WHERE_CHARS}
        answer["required"] = list(RuleVerdict.model_fields)
        properties["rules"] = {"type": "array", "items": answer,
                               "minItems": rules, "maxItems": rules}
    else:
        del properties["rules"]
    schema["required"] = list(properties)
    return schema


def review(state: State, runtime: Runtime[Context]) -> dict[str, object]:
    """Judge the current attempt and record it; a reviewer cannot approve failing checks."""
    ctx = context_of(runtime.context)
    attempt = state["current"]
    started = time.monotonic()
    tokens = dict(attempt["tokens"])
    verdict, problem = None, None
    rules = rules_for(state["task"], attempt)
    missing = uncovered(attempt, rules) if attempt.get("model_tests") else []
    could_pass = ready_for_review(attempt)
    ready = could_pass and not missing
    if ready:
        verdict, problem = _ask_reviewer(ctx, state["task"], attempt, rules, tokens)
    approved = bool(verdict and ready and verdict.approves(ctx.review_threshold, len(rules)))
    seconds = {**attempt["seconds"], "review": round(time.monotonic() - started, 3)}
    done: Attempt = {
        **attempt,
        "tokens": tokens,
        "seconds": seconds,
        "review_error": problem,
        "approved": approved,
    }
    if missing and could_pass:
        done["untested_rules"] = [rules[number - 1] for number in missing]
    if verdict is not None:
        done["verdict"] = _recorded(verdict, rules)
    return {"current": done, "attempts": [done]}


def _recorded(verdict: Verdict, rules: list[str]) -> VerdictDict:
    """The verdict as state keeps it: each rule answer also names the rule it is about."""
    recorded = verdict.model_dump()
    for answer in recorded["rules"]:
        number = answer["rule"]
        answer["text"] = rules[number - 1] if 0 < number <= len(rules) else ""
    return recorded  # type: ignore[return-value]


def _ask_reviewer(
    ctx: Context, task: str, attempt: Attempt, rules: list[str], tokens: dict[str, int]
) -> tuple[Verdict | None, str | None]:
    """One verdict request, plus one repair request if the first reply does not validate."""
    model = chat_model(ctx, "reviewer")
    prompts = prompts_for(model)
    messages: list[BaseMessage] = prompts.review(task, attempt, rules)
    schema = verdict_schema(len(rules))
    problem = "no reply"
    for step in ("verdict", "verdict repair"):
        config = call_config(step, attempt["iteration"])
        reply = _call(model, messages, ctx, tokens, list(prompts.stop), config, schema,
                      VERDICT_TOKENS + RULE_TOKENS * len(rules))
        verdict, problem = parse_verdict(reply.text)
        if verdict is not None:
            return verdict, None
        messages = [*messages, reply, prompts.repair(problem)]
    return None, f"the reviewer's verdict was unusable twice ({problem}): not approved"


def _call(model: BaseChatModel, messages: list[BaseMessage], ctx: Context,
          tokens: dict[str, int], stop: list[str], config: RunnableConfig,
          schema: dict[str, object], max_tokens: int) -> AIMessage:
    reply = call_model(
        model, messages, stop=stop, temperature=0.0, max_tokens=max_tokens,
        json_schema=schema, timeout=ctx.model_timeout, config=config,
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
