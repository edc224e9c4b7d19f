"""Several solutions per retry, the attempt being the one that passes most trusted checks.

A retry samples (at `retry_temperature`), and on HumanEval one sample in five fixes an
attempt that failed the task's examples. Where the task has checks the loop trusts (its
examples, its stated calls, the user's tests), `retry_candidates` solutions are written
at once (`opinion_candidates` for a second opinion) and each is judged by those checks in
the sandbox; the best one (the first on a tie) goes on as the attempt. A model that
`writes_candidates` (the embedded one) decodes them in one batch, reading the prompt
once; other models are asked once, as before.

Such a batch is the run's last retry: it stands for the rounds left (graph.route). A batch
lasts about as long as its longest reply, so four solutions at once cost little more
than one, and less than two retries in a row. On the 62 HumanEval problems a whole run
retried with a batch of four, it got 22 right in 24.1 s a problem where two sampled
retries in a row got 18 in 21.1 s (README, "One batch of four as the retry"). Tasks with
nothing to choose by, and models writing one solution, keep their rounds.
"""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration
from langchain_core.runnables import ensure_config

from codeloop.context import Context
from codeloop.nodes.checks import TRUSTED, checks_for, has_trusted, run_checks
from codeloop.nodes.common import cut_reply, sampling
from codeloop.nodes.enough import enough_solution
from codeloop.nodes.extract import extract, with_task_definitions
from codeloop.sandbox import Limits
from codeloop.state import Attempt
from codeloop.tracing import call_config


def candidate_count(
    ctx: Context, model: BaseChatModel, previous: Attempt | None, opinion: bool = False
) -> int:
    """How many solutions this attempt writes: several only for a retry with checks to choose by.

    A second opinion (`opinion`, nodes.checks.only_model_tests_fail) has its own count: it
    settles a dispute only if it passes the task's examples itself, and on HumanEval
    (c2cc1ef, all 164) 5 of 14 single second opinions failed them, leaving 4 right
    attempts unapproved. It is rare, so a few candidates there cost little in all.
    """
    if previous is None or not getattr(model, "writes_candidates", False):
        return 1
    if opinion:
        return ctx.opinion_candidates
    return ctx.retry_candidates if has_trusted(previous) else 1


def ask_candidates(
    model: BaseChatModel, messages: list[BaseMessage], ctx: Context, salt: int, count: int,
    stop: list[str],
) -> list[AIMessage]:
    """`count` replies sampled as a retry is, each cut after its code.

    Reply n has seed `seed + salt + n`: the first is the one a single retry would get.
    Asked through `generate`, which (unlike `invoke`) hands back every reply, traced as
    one call under the node's run like `invoke`'s; not streamed.
    """
    config = ensure_config(call_config("solution", salt + 1))
    result = model.generate(
        [messages], stop=stop, callbacks=config.get("callbacks"), tags=config.get("tags"),
        metadata=config.get("metadata"), run_name=config.get("run_name"),
        candidates=count, stream=False, enough=enough_solution,
        max_tokens=ctx.max_new_tokens, **sampling(ctx, salt),
    )
    return [cut_reply(g.message, enough_solution) for g in result.generations[0]
            if isinstance(g, ChatGeneration) and isinstance(g.message, AIMessage)]


def choose(
    replies: list[AIMessage], task: str, extra_tests: str, limits: Limits
) -> tuple[AIMessage, list[int]]:
    """The reply whose code passes most trusted checks (the first on a tie), and each count."""
    passed = []
    for reply in replies:
        code = with_task_definitions(extract(reply.text).code, task)
        checks = [c for c in checks_for(task, code, extra_tests, "") if c.origin in TRUSTED]
        judged = run_checks(code, checks, limits) if code else []
        passed.append(sum(c["outcome"] == "passed" for c in judged))
    best = max(range(len(replies)), key=lambda n: (passed[n], -n))
    return replies[best], passed
