"""The service endpoints: GET /health, POST /generate, POST /review.

`create_app` builds the app that langgraph.json mounts into the LangGraph server (see
`codeloop.server.app`), whose /docs and /openapi.json then document these endpoints next
to LangGraph's own; so this app serves no docs of its own. The model work blocks, so it
runs in worker threads: a long /generate never stalls /health or a streaming run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from codeloop import __version__
from codeloop.context import Context
from codeloop.server.errors import GuardedRoute, validation_error
from codeloop.server.guard import RateLimiter, ServiceGuard, retry_after
from codeloop.server.health import Probe, check_backend
from codeloop.server.schemas import (
    ErrorBody,
    GenerateRequest,
    GenerateResponse,
    HealthResponse,
    ReviewRequest,
    ReviewResponse,
)
from codeloop.server.settings import Settings
from codeloop.server.steps import generate_once, review_once

SERVICE_PATHS = ("/health", "/generate", "/review")
DESCRIPTION = "Single steps of the codeloop workflow, for clients that want one step."


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    why = {
        413: "The request body is over the size limit.",
        422: "Malformed JSON, a missing field, or a field over its limit.",
        429: "Too many requests from this client; see the Retry-After header.",
        500: "Unexpected error (logged on the server).",
        503: "The model backend is unavailable.",
        504: "The model did not answer in time.",
    }
    return {code: {"model": ErrorBody, "description": why[code]} for code in codes}


@dataclass(frozen=True)
class Service:
    """What the endpoints work with: settings, each request's run context, the probe."""

    settings: Settings
    context: Callable[[], Context]
    probe: Callable[[str], Probe]
    limiter: RateLimiter


def service(request: Request) -> Service:
    """Return the app's Service (a FastAPI dependency)."""
    found: Service = request.app.state.codeloop_service
    return found


Served = Annotated[Service, Depends(service)]


async def rate_limited(request: Request, svc: Served) -> None:
    """Count the request against its client's limit; 429 with Retry-After once over it."""
    wait = svc.limiter.acquire(request.client.host if request.client else "unknown")
    if wait is not None:
        raise HTTPException(
            429,
            f"rate limit: {svc.settings.rate_limit} requests per minute per client; "
            f"retry in {retry_after(wait)} s",
            headers={"Retry-After": retry_after(wait)},
        )


router = APIRouter(route_class=GuardedRoute, tags=["codeloop service"])


@router.get(
    "/health",
    response_model=HealthResponse,
    responses={503: {"model": HealthResponse, "description": "The backend cannot serve."}},
    summary="Whether the model backend can serve, and the version",
)
async def health(svc: Served) -> JSONResponse:
    """Answer 200 when the model backend can serve, else 503 with the reason."""
    found = await asyncio.to_thread(svc.probe, svc.context().model)
    body = HealthResponse(
        status="ok" if found.ok else "unavailable",
        backend=found.backend,
        version=__version__,
        reason=found.reason,
    )
    return JSONResponse(body.model_dump(), status_code=200 if found.ok else 503)


@router.post(
    "/generate",
    response_model=GenerateResponse,
    responses=_errors(413, 422, 429, 500, 503, 504),
    dependencies=[Depends(rate_limited)],
    summary="Write code and tests for a task (one generation, no loop)",
)
async def generate(request: GenerateRequest, svc: Served) -> GenerateResponse:
    """Write a solution and its tests: the generate node's two model turns."""
    attempt = await asyncio.to_thread(
        generate_once, request.task, request.constraints, svc.context()
    )
    return GenerateResponse(
        code=attempt["code"],
        tests=attempt["tests"],
        error=attempt["parse_error"],
        tokens=attempt["tokens"],
        seconds=attempt["seconds"].get("generate", 0.0),
    )


@router.post(
    "/review",
    response_model=ReviewResponse,
    responses=_errors(413, 422, 429, 500, 503, 504),
    dependencies=[Depends(rate_limited)],
    summary="Test code in the sandbox and review it against its task",
)
async def review(request: ReviewRequest, svc: Served) -> ReviewResponse:
    """Run the tests in the sandbox, then have the reviewer judge the code."""
    attempt = await asyncio.to_thread(
        review_once, request.task, request.code, request.tests, svc.context()
    )
    return ReviewResponse.model_validate(
        {
            "approved": bool(attempt.get("approved")),
            "report": attempt.get("report"),
            "verdict": attempt.get("verdict"),
            "review_error": attempt.get("review_error"),
            "tokens": attempt["tokens"],
            "seconds": attempt["seconds"],
        }
    )


def create_app(
    settings: Settings | None = None,
    *,
    context: Callable[[], Context] = Context,
    probe: Callable[[str], Probe] = check_backend,
) -> FastAPI:
    """Build the service app; `context` makes each request's run settings (model spec...)."""
    settings = settings or Settings.from_env()
    app = FastAPI(
        title="codeloop service",
        version=__version__,
        description=DESCRIPTION,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        # The routes themselves, not include_router's lazy wrapper: LangGraph wraps each
        # route of this app in its auth middleware (http.enable_custom_route_auth).
        routes=list(router.routes),
    )
    app.state.codeloop_service = Service(settings, context, probe, RateLimiter(settings.rate_limit))
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_middleware(
        ServiceGuard,
        paths=SERVICE_PATHS,
        origins=settings.cors_origins,
        max_body=settings.max_body_bytes,
    )
    return app

