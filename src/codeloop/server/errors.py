"""Errors as clients see them: a status and one line, never a trace, a path or a secret.

The service app is merged into LangGraph's server, where exception handlers are global;
so unexpected errors are caught per route (`GuardedRoute`), not by an app-wide handler
that would also change how LangGraph's own routes answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.responses import Response

from codeloop.models import ModelSpecError

log = logging.getLogger(__name__)
MAX_PROBLEMS_SHOWN = 3


def public_error(exc: BaseException) -> tuple[int, str]:
    """Map an exception from the work itself to the status and message a client gets."""
    if isinstance(exc, ModelSpecError):
        return 503, "the server's model spec (CODELOOP_MODEL) is not valid"
    if isinstance(exc, TimeoutError):
        return 504, "the model did not answer in time"
    if type(exc).__module__.startswith("codeloop.models") or isinstance(
        exc, ConnectionError | ImportError
    ):
        return 503, "the model backend is unavailable (details in the server log)"
    return 500, "internal error (details in the server log)"


def describe_validation(exc: RequestValidationError) -> str:
    """One line naming each bad field and what is wrong with it."""
    problems = []
    for error in exc.errors()[:MAX_PROBLEMS_SHOWN]:
        if error.get("type") == "json_invalid":
            cause = (error.get("ctx") or {}).get("error", "")
            problems.append(f"the request body is not valid JSON ({cause})".replace(" ()", ""))
            continue
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems) or "the request is not valid"


async def validation_error(request: Request, exc: Exception) -> Response:
    """422 with the field problems (FastAPI's default would echo the input back)."""
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": describe_validation(exc)}, status_code=422)


class GuardedRoute(APIRoute):
    """A route whose unexpected errors become a clean JSON error, logged with the trace."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap FastAPI's handler so no exception leaves this route unformatted."""
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except (HTTPException, RequestValidationError):
                raise
            except Exception as exc:
                status, message = public_error(exc)
                log.exception("%s %s failed with %s", request.method, request.url.path, status)
                return JSONResponse({"detail": message}, status_code=status)

        return guarded
