"""The rate limiter's sliding window and the service settings from the environment."""

from __future__ import annotations

import pytest

from codeloop.server.guard import RateLimiter, retry_after
from codeloop.server.settings import MAX_BODY_BYTES, Settings, SettingsError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_limit_holds_over_any_sliding_minute_per_client():
    clock = Clock()
    limiter = RateLimiter(3, clock=clock)
    for _ in range(3):  # at +0, +10, +20 s
        assert limiter.acquire("a") is None
        clock.now += 10
    assert limiter.acquire("a") == pytest.approx(30.0)  # at +30: the first leaves at +60
    assert limiter.acquire("b") is None  # another client has its own window
    clock.now += 30
    assert limiter.acquire("a") is None  # at +60: the first has left
    assert limiter.acquire("a") == pytest.approx(10.0)  # the one from +10 leaves at +70


def test_rejected_requests_do_not_extend_the_wait():
    clock = Clock()
    limiter = RateLimiter(1, clock=clock)
    limiter.acquire("a")
    for _ in range(5):
        clock.now += 10
        limiter.acquire("a")
    assert limiter.acquire("a") == pytest.approx(10.0)


def test_zero_turns_the_limit_off():
    limiter = RateLimiter(0)
    assert all(limiter.acquire("a") is None for _ in range(100))


def test_idle_clients_are_forgotten():
    clock = Clock()
    limiter = RateLimiter(5, clock=clock)
    for n in range(2000):
        limiter.acquire(f"client-{n}")
    clock.now += 61
    limiter.acquire("late")
    assert len(limiter._seen) == 1


@pytest.mark.parametrize(("seconds", "header"), [(0.01, "1"), (1.0, "1"), (1.2, "2"), (59.9, "60")])
def test_retry_after_is_whole_seconds_rounded_up(seconds, header):
    assert retry_after(seconds) == header


def test_settings_default_to_ten_a_minute_and_no_cors_origins():
    assert Settings.from_env({}) == Settings(
        rate_limit=10, cors_origins=(), max_body_bytes=MAX_BODY_BYTES
    )


def test_settings_read_the_environment():
    settings = Settings.from_env(
        {
            "CODELOOP_RATE_LIMIT": " 30 ",
            "CODELOOP_CORS_ORIGINS": "http://a.example, https://b.example,",
        }
    )
    assert settings.rate_limit == 30
    assert settings.cors_origins == ("http://a.example", "https://b.example")


@pytest.mark.parametrize(
    ("value", "message"),
    [("ten", "CODELOOP_RATE_LIMIT must be a whole number"), ("-1", "must be 0 (off) or more")],
)
def test_bad_settings_are_rejected_with_a_reason(value, message):
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Settings.from_env({"CODELOOP_RATE_LIMIT": value})
