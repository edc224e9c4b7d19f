"""Builders for scripted model replies and a Context that uses a scripted model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from codeloop.context import Context
from codeloop.models import register_model

# `make run`'s demo task, with its one example on a line of its own: without an example
# nothing trusted anchors the 0.5B model's own tests, and on some CPUs' builds right code
# ended not approved (issue 15). The integration tests run the same task.
FIZZBUZZ = (Path(__file__).parents[1] / "examples" / "fizzbuzz.md").read_text(encoding="utf-8").strip()


def ScriptedContext(*, scripted: Any, **settings: Any) -> Context:
    """A Context whose model is `scripted`, registered in this process under a new name."""
    return Context(**{**settings, "model": register_model(scripted)})


def reply_with_code(code: str) -> str:
    return f"Here is the solution:\n\n```python\n{code.strip()}\n```\n"


def reply_with_tests(tests: str) -> str:
    return f"```python\nfrom solution import *\n\n{tests.strip()}\n```"


def reply_with_verdict(approved: bool, score: int, issues: list[str] | None = None) -> str:
    return json.dumps(
        {"issues": issues or [], "suggestions": [], "score": score, "approved": approved}
    )
