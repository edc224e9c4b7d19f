"""Short names for tasks: the results folder and the trace of a run are both named by them."""

from __future__ import annotations

import re

SLUG_WORDS = 6


def slugify(text: str, limit: int = 40) -> str:
    """Make a short, filesystem-safe name from the first words of a task."""
    words = re.findall(r"[a-z0-9]+", text.lower())[:SLUG_WORDS]
    return "-".join(words)[:limit].strip("-") or "task"
