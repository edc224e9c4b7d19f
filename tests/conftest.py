"""Shared fixtures: a Context whose model is a scripted fake."""

from __future__ import annotations

from typing import Any

import pytest

from codeloop.models.scripted import ScriptedChatModel
from tests.helpers import ScriptedContext


@pytest.fixture
def scripted():
    """Build a (context, model) pair from a list of replies."""

    def make(replies: list[str], **settings: Any) -> tuple[ScriptedContext, ScriptedChatModel]:
        model = ScriptedChatModel(script=replies)
        return ScriptedContext(scripted=model, **settings), model

    return make
