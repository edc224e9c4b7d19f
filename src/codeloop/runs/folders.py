"""A run's result folder, written here and nowhere else: code, tests, then report.json.

`<out>/<timestamp>-<slug>/` for a single run, `<out>/<task id>/` in a batch. Every file
goes through a temporary name and an atomic rename, `report.json` last, so a folder with
a report is a finished run and anything less is not: a killed process never leaves a
half-written result that looks finished.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from codeloop import __version__
from codeloop.runs.runner import RunResult
from codeloop.runs.store import RunRecord, context_of_run
from codeloop.state import slugify

REPORT = "report.json"
RESULT_FILES = ("solution.py", "test_solution.py", REPORT)


def folder_name(task: str) -> str:
    """A new run's folder name (and run id): the time and the task's slug."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{slugify(task)}"


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
        "context": dataclasses.asdict(result.context),
        "final": result.final,
        "attempts": attempts,
    }


def write_run(record: RunRecord, result: RunResult) -> dict[str, Any]:
    """Write the run's folder (code, tests, then report.json) and return the report.

    The report shows the settings the run was created with. Temporary files left by a
    process killed in the middle of a write are removed first, so no partial file
    survives a rerun.
    """
    folder = Path(record.result_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for name in RESULT_FILES:
        for stale in folder.glob(f".{name}.*"):
            stale.unlink(missing_ok=True)
    result = dataclasses.replace(result, context=context_of_run(record))
    report = {"run_id": record.run_id, **report_of(result)}
    final = result.final or {"code": "", "tests": ""}
    write_atomic(folder / "solution.py", final["code"])
    write_atomic(folder / "test_solution.py", final["tests"])
    write_atomic(folder / REPORT, json.dumps(report, indent=2) + "\n")
    return report


def written_report(record: RunRecord) -> dict[str, Any] | None:
    """The report of a run whose folder is complete, else None."""
    path = Path(record.result_dir) / REPORT
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return report if isinstance(report, dict) else None


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
