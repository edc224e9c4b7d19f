"""A batch's summary files: `summary.json` and `summary.md` in its results folder.

The summary covers every valid task of the file, whichever invocation finished it, so
after a rerun it describes the whole batch, not only the tasks the rerun did.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

from codeloop.batch.outcome import BatchRun
from codeloop.runs.folders import write_atomic

STATUSES = ("approved", "not_approved", "error", "pending")


def summary_of(tasks_file: Path, run: BatchRun, concurrency: int) -> dict[str, Any]:
    """The batch summary: counts by status, totals, and one row per task."""
    counts = Counter(o.status for o in run.outcomes)
    return {
        "tasks_file": str(tasks_file),
        "written": time.strftime("%Y-%m-%d %H:%M:%S"),
        "total": len(run.outcomes),
        "counts": {status: counts.get(status, 0) for status in STATUSES},
        "invalid_lines": run.problems,
        "iterations": sum(o.iterations for o in run.outcomes),
        "tokens": {
            key: sum(o.tokens.get(key, 0) for o in run.outcomes)
            for key in ("prompt", "completion")
        },
        "task_seconds": round(sum(o.seconds for o in run.outcomes), 3),
        "last_invocation": {
            "ran": run.ran,
            "seconds": round(run.seconds, 3),
            "concurrency": concurrency,
            "interrupted": run.interrupted,
            **({"ray": run.ray} if run.ray else {}),
        },
        "tasks": [asdict(o) for o in run.outcomes],
    }


def write_summary(out: Path, summary: dict[str, Any]) -> None:
    """Write summary.json and summary.md atomically."""
    write_atomic(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    write_atomic(out / "summary.md", markdown(summary))


def markdown(summary: dict[str, Any]) -> str:
    """The summary as a Markdown page: counts, totals, a table of tasks, invalid lines."""
    counts = summary["counts"]
    lines = [
        f"# Batch summary: {summary['tasks_file']}",
        "",
        f"{summary['total']} tasks: " + ", ".join(f"{counts[s]} {s}" for s in STATUSES),
        "",
        f"Iterations: {summary['iterations']} · tokens: {summary['tokens']['prompt']} prompt, "
        f"{summary['tokens']['completion']} completion · task time: "
        f"{summary['task_seconds']:.1f} s",
        *_ray_line(summary["last_invocation"].get("ray")),
        "",
        "| id | status | iterations | tokens | seconds | folder |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for row in summary["tasks"]:
        tokens = row["tokens"].get("prompt", 0) + row["tokens"].get("completion", 0)
        status = row["status"] + (f": {row['error']}" if row["error"] else "")
        lines.append(
            f"| {row['id']} | {_cell(status)} | {row['iterations']} | {tokens} | "
            f"{row['seconds']:.1f} | {row['folder'] or ''} |"
        )
    if summary["invalid_lines"]:
        lines += ["", "## Skipped lines", ""]
        lines += [f"- {_cell(problem)}" for problem in summary["invalid_lines"]]
    return "\n".join(lines) + "\n"


def _ray_line(ray: dict[str, Any] | None) -> list[str]:
    """The last invocation's Ray cluster, when it ran on one."""
    if not ray:
        return []
    overhead = ray["overhead_ms_per_run"]
    return ["", f"Last run on Ray ({ray['address']}): {ray['workers']} workers, "
            f"{ray['threads_per_worker']} thread(s) each; Ray's overhead "
            f"{'-' if overhead is None else overhead} ms per run"]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")[:300]
