"""Run configuration, read by every node through LangGraph's runtime context.

Studio renders this dataclass as the run's configuration form, so every field carries a
description. Values passed explicitly win; the model spec falls back to `CODELOOP_MODEL`
so a deployment (docker-compose, `langgraph dev`) picks its backend without code. It is
plain data: the model it names is loaded by `codeloop.models.chat_model`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

DEFAULT_MODEL = "local"


@dataclass(kw_only=True)
class Context:
    """How one run of the loop is configured."""

    model: str = field(
        default_factory=lambda: os.environ.get("CODELOOP_MODEL") or DEFAULT_MODEL,
        metadata={
            "description": "Model spec of the generator: 'local' (embedded Qwen2.5-Coder-0.5B "
            "via llama.cpp), 'local:/path/to/model.gguf', 'tgi:http://HOST:PORT', or any "
            "LangChain chat model as 'PROVIDER:MODEL' (e.g. "
            "'openai:MODEL?base_url=http://HOST:PORT/v1' for vLLM, SGLang or llama.cpp's "
            "server; 'ollama:qwen2.5-coder'). Defaults to $CODELOOP_MODEL, else 'local'."
        },
    )
    reviewer_model: str | None = field(
        default_factory=lambda: os.environ.get("CODELOOP_REVIEWER_MODEL") or None,
        metadata={
            "description": "Model spec of the reviewer, in the same forms as `model`: e.g. "
            "an instruct model judging what a base model (StarCoder) wrote. Defaults to "
            "$CODELOOP_REVIEWER_MODEL, else the generator's `model`."
        },
    )
    max_iterations: int = field(
        default=3,
        metadata={"description": "Generate-execute-review rounds before giving up (1-20)."},
    )
    temperature: float = field(
        default=0.0,
        metadata={"description": "Sampling temperature for generation; 0 is greedy."},
    )
    retry_temperature: float = field(
        default=0.7,
        metadata={
            "description": "Sampling temperature for attempts after the first (at least "
            "`temperature`): above 0, a retry explores other solutions instead of "
            "repeating one the tests rejected."
        },
    )
    retry_candidates: int = field(
        default=4,
        metadata={
            "description": "Solutions a retry writes at once (1-8), where the task has "
            "examples or tests of the user's to choose by: the one passing most of them is "
            "the attempt, and more than one make it the last retry, standing for the rounds "
            "left. The embedded model decodes them together in one batch, sharing the "
            "prompt; other models write one a round."
        },
    )
    opinion_candidates: int = field(
        default=2,
        metadata={
            "description": "Solutions a second opinion writes at once (1-8): the retry, "
            "written from the task alone, that settles a dispute between an attempt passing "
            "every example and the model's own tests. The one passing most examples is the "
            "opinion. Embedded model only, like `retry_candidates`."
        },
    )
    seed: int = field(
        default=0,
        metadata={"description": "Sampling seed, so a run can be repeated."},
    )
    review_threshold: int = field(
        default=6,
        metadata={"description": "Lowest reviewer score (0-10) that counts as approval."},
    )
    examples_suffice: int = field(
        default=2,
        metadata={
            "description": "A task with at least this many examples of its own (or tests "
            "given by the user) is checked by them and the review: the model writes no tests "
            "of its own for it. Above 10, the model always writes tests."
        },
    )
    max_new_tokens: int = field(
        default=1024,
        metadata={"description": "Most tokens the model may write per generation."},
    )
    test_timeout: float = field(
        default=20.0,
        metadata={"description": "Wall-clock seconds the generated tests may run in the sandbox."},
    )
    model_timeout: float = field(
        default=300.0,
        metadata={"description": "Seconds one model call may take before it fails."},
    )
    human_review: bool = field(
        default=False,
        metadata={"description": "Pause before finalize so a person can approve or send feedback."},
    )

    def __post_init__(self) -> None:
        """Reject settings that would make a run meaningless, with the allowed range."""
        if not 1 <= self.max_iterations <= 20:
            raise ValueError(f"max_iterations must be 1-20, got {self.max_iterations}")
        if not 0 <= self.review_threshold <= 10:
            raise ValueError(f"review_threshold must be 0-10, got {self.review_threshold}")
        for name in ("retry_candidates", "opinion_candidates"):
            if not 1 <= getattr(self, name) <= 8:
                raise ValueError(f"{name} must be 1-8, got {getattr(self, name)}")
        if self.examples_suffice < 1:
            raise ValueError(f"examples_suffice must be at least 1, got {self.examples_suffice}")
        for name in ("temperature", "retry_temperature"):
            if not 0.0 <= getattr(self, name) <= 2.0:
                raise ValueError(f"{name} must be 0-2, got {getattr(self, name)}")
        for name in ("test_timeout", "model_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")


def context_of(runtime_context: object) -> Context:
    """The run's Context; a run started without one (plain `invoke`) gets the defaults."""
    return runtime_context if isinstance(runtime_context, Context) else Context()
