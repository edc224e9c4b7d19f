"""Read a batch's tasks file: one JSON object per line, bad lines reported and skipped.

A line is `{"id": ..., "task": ..., "max_iterations"?: ...}`. The id names the task's
result folder and, with the batch's name, its run id; so it must be unique in the file
and safe as a file name. A bad line never aborts the batch: it is reported with its
line number and left out.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from codeloop.state import check_task

ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
FIELDS = ("id", "task", "max_iterations")


@dataclass(frozen=True)
class BatchTask:
    """One valid line of a tasks file."""

    id: str
    task: str
    max_iterations: int | None
    line: int


def load_tasks(path: Path) -> tuple[list[BatchTask], list[str]]:
    """The valid tasks of `path`, and one `line N: reason` message per invalid line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read tasks file {path}: {exc}") from None
    tasks: list[BatchTask] = []
    problems: list[str] = []
    first_line: dict[str, int] = {}
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            task = parse_line(text, number)
        except ValueError as exc:
            problems.append(f"line {number}: {exc}")
            continue
        if task.id in first_line:
            problems.append(f"line {number}: duplicate id {task.id!r} (first on line "
                            f"{first_line[task.id]})")
            continue
        first_line[task.id] = number
        tasks.append(task)
    return tasks, problems


def parse_line(text: str, number: int) -> BatchTask:
    """One line as a BatchTask, or a ValueError saying what is wrong with it."""
    try:
        item = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(item, dict):
        raise ValueError('expected a JSON object like {"id": "t1", "task": "..."}')
    unknown = sorted(set(item) - set(FIELDS))
    if unknown:
        raise ValueError(f"unknown field {unknown[0]!r} (fields: {', '.join(FIELDS)})")
    return BatchTask(
        id=_task_id(item.get("id")),
        task=_task_text(item.get("task")),
        max_iterations=_iterations(item.get("max_iterations")),
        line=number,
    )


def _task_id(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise ValueError(
            f"id must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or "
            f"digit (got {value!r})"
        )
    return value


def _task_text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("task must be a string describing what the code should do")
    return check_task(value)


def _iterations(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 20:
        raise ValueError(f"max_iterations must be a whole number from 1 to 20 (got {value!r})")
    return value
