"""Who may use the server: with `CODELOOP_API_KEY` set, only requests that carry the key.

langgraph.json names `auth` here as LangGraph's custom auth, so the LangGraph API
(assistants, threads, runs, the store) checks every request with `authenticate`, and
`http.enable_custom_route_auth` puts codeloop's own endpoints (/health, /generate,
/review) behind the same check. The key travels as `x-api-key` (what the LangGraph SDK
sends for `api_key=`) or as `Authorization: Bearer KEY`; a request without it, or with
another, is answered 401. `disable_studio_auth` keeps the `x-auth-scheme: langsmith`
header from skipping the check under `langgraph dev`. LangGraph's /ok and /info stay open,
for health probes.

Without the variable (or with it empty) the server is open, as `langgraph dev` on a
laptop has always been. The key is read per request, from the environment that
langgraph.json's `env` file and docker-compose set.
"""

from __future__ import annotations

import hmac
import os

from langgraph_sdk import Auth

API_KEY_ENV = "CODELOOP_API_KEY"
OWNER = "codeloop"  # one key, one identity: whoever holds it owns every thread

auth = Auth()


def presented_key(headers: dict[bytes, bytes]) -> str | None:
    """The key a request carries: `x-api-key`, else a bearer token, else None."""
    key = headers.get(b"x-api-key")
    if key:
        return key.decode("latin-1").strip()
    scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def key_matches(presented: str | None, expected: str) -> bool:
    """Compare in constant time, so the answer's timing tells nothing about the key."""
    return presented is not None and hmac.compare_digest(presented.encode(), expected.encode())


@auth.authenticate
async def authenticate(headers: dict[bytes, bytes]) -> Auth.types.MinimalUserDict:
    """Let a request in if the server has no key, or if it carries the server's key."""
    expected = os.environ.get(API_KEY_ENV, "").strip()
    if expected and not key_matches(presented_key(headers), expected):
        raise Auth.exceptions.HTTPException(
            status_code=401,
            detail=f"this server needs its API key ({API_KEY_ENV}) in the x-api-key header "
            "or as Authorization: Bearer KEY",
        )
    return {"identity": OWNER}
