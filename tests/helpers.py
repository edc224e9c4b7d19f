"""Builders for scripted model replies and a Context that uses a scripted model."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from codeloop.context import Context


@dataclass(kw_only=True)
class ScriptedContext(Context):
    """A Context that hands the nodes a scripted model instead of loading one."""

    scripted: Any = None

    def chat_model(self) -> Any:
        return self.scripted


def reply_with_code(code: str) -> str:
    return f"Here is the solution:\n\n```python\n{code.strip()}\n```\n"


def reply_with_tests(tests: str) -> str:
    return f"```python\nfrom solution import *\n\n{tests.strip()}\n```"


def reply_with_verdict(approved: bool, score: int, issues: list[str] | None = None) -> str:
    return json.dumps(
        {"issues": issues or [], "suggestions": [], "score": score, "approved": approved}
    )
