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
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from codeloop.state import check_task

ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


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


class TaskLine(BaseModel):
    """A line as JSON: the fields, their types and ranges; each message says what is allowed."""

    model_config = ConfigDict(extra="forbid")

    id: str
    task: str
    max_iterations: int | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _id(cls, value: object) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
            raise ValueError(f"{MISSING['id']} (got {value!r})")
        return value

    @field_validator("task", mode="before")
    @classmethod
    def _task(cls, value: object) -> str:
        if not isinstance(value, str):
            raise ValueError(MISSING["task"])
        return check_task(value)

    @field_validator("max_iterations", mode="before")
    @classmethod
    def _iterations(cls, value: object) -> object:
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 20
        ):
            raise ValueError(f"max_iterations must be a whole number from 1 to 20 (got {value!r})")
        return value


# What a missing or malformed field must be (pydantic's own words name types, not rules).
MISSING = {
    "id": "id must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
    "task": "task must be a string describing what the code should do",
}


def parse_line(text: str, number: int) -> BatchTask:
    """One line as a BatchTask, or a ValueError saying what is wrong with it."""
    try:
        item = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(item, dict):
        raise ValueError('expected a JSON object like {"id": "t1", "task": "..."}')
    try:
        line = TaskLine.model_validate(item)
    except ValidationError as exc:
        raise ValueError(_reason(exc.errors()[0])) from None
    return BatchTask(id=line.id, task=line.task, max_iterations=line.max_iterations, line=number)


def _reason(error: Any) -> str:
    """One pydantic error in the tasks file's own terms."""
    field = str(error["loc"][0]) if error["loc"] else ""
    if error["type"] == "extra_forbidden":
        return f"unknown field {field!r} (fields: {', '.join(TaskLine.model_fields)})"
    if error["type"] == "missing":
        return MISSING[field]
    return str(error.get("ctx", {}).get("error") or error["msg"])
