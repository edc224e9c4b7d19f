"""Shared fixtures: a Context whose model is a scripted fake."""

from __future__ import annotations

import signal
from typing import Any

import pytest

from codeloop.models.scripted import ScriptedChatModel
from tests.helpers import ScriptedContext


def pytest_configure(config: pytest.Config) -> None:
    """Undo an inherited "ignore SIGINT" (a suite started as a background job has it).

    Ignored signals stay ignored across exec, so the Ctrl-C tests' child processes would
    never see the SIGINT they are sent; a handled signal is reset to default instead.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def scripted():
    """Build a (context, model) pair from a list of replies."""

    def make(replies: list[str], **settings: Any) -> tuple[ScriptedContext, ScriptedChatModel]:
        model = ScriptedChatModel(script=replies)
        return ScriptedContext(scripted=model, **settings), model

    return make
