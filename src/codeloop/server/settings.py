"""Service settings, read from the environment (langgraph.json's `env` file feeds it).

- `CODELOOP_RATE_LIMIT`: requests per minute per client to /generate and /review
  (default 10; 0 turns the limit off).
- `CODELOOP_CORS_ORIGINS`: comma-separated origins browsers may call the service
  endpoints from (default: none).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_RATE_LIMIT = 10
# Task (10,000 characters, up to 4 bytes each) plus code and tests (100 KB each), JSON-escaped.
MAX_BODY_BYTES = 512 * 1024


class SettingsError(ValueError):
    """A service setting in the environment is not usable."""


@dataclass(frozen=True)
class Settings:
    """How the service endpoints guard themselves."""

    rate_limit: int = DEFAULT_RATE_LIMIT
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    max_body_bytes: int = MAX_BODY_BYTES

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read `CODELOOP_RATE_LIMIT` and `CODELOOP_CORS_ORIGINS` (bad values raise)."""
        env = os.environ if environ is None else environ
        raw_limit = env.get("CODELOOP_RATE_LIMIT", "").strip()
        try:
            limit = int(raw_limit) if raw_limit else DEFAULT_RATE_LIMIT
        except ValueError:
            raise SettingsError(
                f"CODELOOP_RATE_LIMIT must be a whole number of requests per minute, "
                f"got {raw_limit!r}"
            ) from None
        if limit < 0:
            raise SettingsError(f"CODELOOP_RATE_LIMIT must be 0 (off) or more, got {limit}")
        origins = env.get("CODELOOP_CORS_ORIGINS", "")
        return cls(
            rate_limit=limit,
            cors_origins=tuple(o.strip() for o in origins.split(",") if o.strip()),
        )
