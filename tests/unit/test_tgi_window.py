"""Keeping a prompt inside TGI's token window: old feedback goes first, the task never."""

from __future__ import annotations

import pytest
from langchain_core.messages import BaseMessage, HumanMessage

from codeloop.models.tgi_window import PromptTooLongError, Window, fit
from codeloop.prompts import trimmable


def words(messages: list[BaseMessage]) -> str:
    return " ".join(m.text for m in messages)


def count_words(text: str) -> int:
    return len(text.split())


def test_a_prompt_within_the_byte_bound_needs_no_token_count():
    calls = []
    kept, max_new = fit(
        [HumanMessage("short task")], window=Window(100, 200), max_new=50,
        render=words, count=lambda text: calls.append(text) or 0,
    )
    assert [m.text for m in kept] == ["short task"] and max_new == 50
    assert calls == []


def test_lowest_rank_goes_first_and_the_task_stays():
    task = HumanMessage("task " * 10)
    tests = trimmable(HumanMessage("tests " * 40), 1)
    code = trimmable(HumanMessage("code " * 40), 2)
    findings = trimmable(HumanMessage("findings " * 20), 3)
    kept, max_new = fit(
        [task, code, tests, findings], window=Window(80, 400), max_new=300,
        render=words, count=count_words,
    )
    assert kept == [task, code, findings]  # 70 words: tests (rank 1) were enough
    assert max_new == 300  # 400 - 70 leaves room for the whole reply


def test_reply_budget_shrinks_to_what_the_window_leaves():
    kept, max_new = fit(
        [HumanMessage("w " * 300)], window=Window(400, 600), max_new=1000,
        render=words, count=count_words,
    )
    assert max_new == 300 and len(kept) == 1


def test_too_little_room_for_the_reply_also_drops_feedback():
    old = trimmable(HumanMessage("old " * 200), 1)
    kept, max_new = fit(
        [HumanMessage("task " * 100), old], window=Window(1000, 400), max_new=512,
        render=words, count=count_words,
    )
    assert kept[-1] is not old and max_new == 300


def test_a_task_too_long_on_its_own_is_a_clear_error():
    with pytest.raises(PromptTooLongError, match=r"needs 500 tokens.*takes 100 input tokens"):
        fit([HumanMessage("task " * 500), trimmable(HumanMessage("x"), 1)],
            window=Window(100, 200), max_new=50, render=words, count=count_words)
