"""Write a finished run to disk: `results/<timestamp>-<slug>/` with code, tests and a report.

Every file is written to a temporary name and renamed into place, so an interrupted
run never leaves a half-written result that looks finished.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from codeloop import __version__
from codeloop.slug import slugify
from codeloop.workflow import RunResult


def new_result_dir(out: Path, task: str) -> Path:
    """A fresh folder named by the time and the task's slug (suffixed if it exists)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = out / f"{stamp}-{slugify(task)}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def report_of(result: RunResult) -> dict[str, Any]:
    """The JSON report: outcome, settings, totals and every attempt."""
    attempts = result.attempts
    return {
        "codeloop_version": __version__,
        "task": result.task,
        "status": result.status,
        "iterations": len(attempts),
        "seconds": round(result.seconds, 3),
        "tokens": {
            key: sum(a["tokens"].get(key, 0) for a in attempts) for key in ("prompt", "completion")
        },
        "context": asdict(result.context),
        "final": result.final,
        "attempts": attempts,
    }


def _read_umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


# Read once at import, before any worker thread: os.umask can only be read by setting it.
UMASK = _read_umask()


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file and an atomic rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~UMASK)  # mkstemp makes 0600; results are ordinary files
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
