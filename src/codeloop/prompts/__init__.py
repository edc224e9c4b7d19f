"""Prompt templates per model family, rendered strictly: a missing variable is an error.

Families: `chat` for instruct models with a chat template (the embedded Qwen coder,
chat models behind TGI); `starcoder` for completion models without one (StarCoder-7B
behind TGI), whose prompts read as one Python file the model continues.

A family also names the stop sequences that end its replies cleanly (at most 4: TGI's
limit), and may mark messages a backend can drop when the prompt outgrows the model's
window (`trimmable`): earlier feedback goes, the task never does.
"""

from __future__ import annotations

from codeloop.prompts.base import FAMILIES, PromptSet, render, trim_rank, trimmable


def prompt_set(family: str) -> PromptSet:
    """The prompts for `family`, or a ValueError listing the families there are."""
    if family == "chat":
        from codeloop.prompts.chat import ChatPrompts

        return ChatPrompts()
    if family == "starcoder":
        from codeloop.prompts.starcoder import StarCoderPrompts

        return StarCoderPrompts()
    raise ValueError(f"unknown prompt family {family!r}: use one of {', '.join(FAMILIES)}")


__all__ = ["FAMILIES", "PromptSet", "prompt_set", "render", "trim_rank", "trimmable"]
