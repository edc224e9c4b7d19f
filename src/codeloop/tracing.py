"""LangSmith tracing: runs labelled as the workflow, and one clear line when traces go nowhere.

Tracing is LangSmith's, switched on by its own environment variables (`LANGSMITH_TRACING`,
`LANGSMITH_API_KEY`, `LANGSMITH_PROJECT`, `LANGSMITH_ENDPOINT`); it is off by default.
codeloop adds the labels that make a trace read as the loop: the run is named after the
task, tagged with the task's slug and the model, and every model call inside it is named
by its step and iteration ("solution #2", "verdict #2").

When tracing is on but the endpoint cannot be reached, LangSmith would retry in the
background and log a traceback-sized warning per batch, and hold the process open at exit
while it retries. `traced_run` checks the endpoint once per process instead: if it is
unreachable, the run goes ahead untraced and one warning line says so.
"""

from __future__ import annotations

import functools
import logging
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

from langchain_core.runnables import RunnableConfig
from langsmith import run_helpers, utils

from codeloop.state import slugify

if TYPE_CHECKING:
    from codeloop.context import Context

log = logging.getLogger("codeloop.tracing")

TAG = "codeloop"
PROBE_SECONDS = 3.0
# langsmith's background sender logs each failed delivery; the first becomes our one line.
LANGSMITH_LOGGERS = ("langsmith.client", "langsmith._internal._background_thread")
ERROR_NAME = re.compile(r"\b\w+(Error|Exception|Timeout)\b")


def tracing_on() -> bool:
    """Whether LangSmith tracing is switched on (environment or an enclosing tracing_context)."""
    return bool(utils.tracing_is_enabled())


def run_config(task: str, context: Context, base: RunnableConfig | None = None) -> RunnableConfig:
    """Build one run's config: named after the task, tagged with its slug and model.

    Anything in `base` (a thread id, callbacks, the caller's own tags) is kept; the
    caller's run name and metadata win over codeloop's.
    """
    slug = slugify(task)
    base = base or {}
    labels = {
        "task_slug": slug,
        "model": context.model,
        "max_iterations": context.max_iterations,
        "review_threshold": context.review_threshold,
    }
    ours = [TAG, f"task:{slug}", f"model:{context.model}"]
    config: RunnableConfig = {**base}
    config["run_name"] = base.get("run_name") or f"codeloop {slug}"
    config["tags"] = [*base.get("tags", []), *(t for t in ours if t not in base.get("tags", []))]
    config["metadata"] = {**labels, **base.get("metadata", {})}
    return config


def call_config(step: str, iteration: int) -> RunnableConfig:
    """Build one model call's config: named by step and iteration, e.g. "solution #2"."""
    return {
        "run_name": f"{step} #{iteration}",
        "tags": [f"iteration:{iteration}", f"step:{step}"],
        "metadata": {"iteration": iteration, "step": step},
    }


@contextmanager
def traced_run(
    task: str, context: Context, base: RunnableConfig | None = None
) -> Iterator[RunnableConfig]:
    """Yield the run's config; untraced, with one warning, if the endpoint is unreachable."""
    config = run_config(task, context, base)
    if not tracing_on():
        yield config
        return
    _collapse_delivery_errors()
    endpoint = utils.get_api_url(None)
    problem = endpoint_problem(endpoint)
    if problem is None:
        yield config
        return
    _warn_once(f"LangSmith tracing is on but {endpoint} is unreachable ({problem}): "
               "traces are not being delivered")
    with run_helpers.tracing_context(enabled=False):
        yield config


@functools.lru_cache(maxsize=8)
def endpoint_problem(endpoint: str) -> str | None:
    """Why `endpoint` cannot take traces (no TCP connection), or None; checked once per URL.

    Behind a proxy the direct connection proves nothing, so it is not tried; delivery
    errors still come out as one line (see _DeliveryErrors).
    """
    parts = urlsplit(endpoint)
    if not parts.hostname:
        return "not a URL"
    if getproxies().get(parts.scheme) and not proxy_bypass(parts.hostname):
        return None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=PROBE_SECONDS):
            return None
    except OSError as exc:
        return exc.strerror or type(exc).__name__


@functools.cache
def _warn_once(message: str) -> None:
    log.warning(message)


class _DeliveryErrors(logging.Filter):
    """Turns langsmith's per-batch delivery failures into one short line per process."""

    def __init__(self) -> None:
        super().__init__()
        self.reported = False

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.levelno < logging.WARNING or not message.startswith("Failed to"):
            return True
        if not self.reported:
            self.reported = True
            error = ERROR_NAME.search(message)
            reason = error.group(0) if error else " ".join(message.split())[:80]
            log.warning(f"LangSmith traces are not being delivered ({reason}); "
                        "further tracing errors are not shown")
        return False


@functools.lru_cache(maxsize=1)
def _collapse_delivery_errors() -> None:
    collapse = _DeliveryErrors()
    for name in LANGSMITH_LOGGERS:
        logging.getLogger(name).addFilter(collapse)


__all__ = ["call_config", "endpoint_problem", "run_config", "traced_run", "tracing_on"]
