"""Reading a tasks file: valid lines become tasks, every bad line is reported by number."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codeloop.batch.tasks import BatchTask, load_tasks


def load(tmp_path: Path, *lines: str) -> tuple[list[BatchTask], list[str]]:
    path = tmp_path / "tasks.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_tasks(path)


def test_valid_lines(tmp_path: Path) -> None:
    tasks, problems = load(
        tmp_path,
        json.dumps({"id": "fizz", "task": "  Write fizzbuzz(n).  "}),
        "",
        json.dumps({"id": 7, "task": "Write add(a, b).", "max_iterations": 2}),
    )
    assert problems == []
    assert tasks == [
        BatchTask(id="fizz", task="Write fizzbuzz(n).", max_iterations=None, line=1),
        BatchTask(id="7", task="Write add(a, b).", max_iterations=2, line=3),
    ]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "not valid JSON"),
        ('["id", "task"]', "expected a JSON object"),
        ('{"id": "a", "task": "x", "max_iteration": 2}', "unknown field 'max_iteration'"),
        ('{"task": "x"}', "id must be"),
        ('{"id": "../etc", "task": "x"}', "id must be"),
        ('{"id": "a b", "task": "x"}', "id must be"),
        ('{"id": true, "task": "x"}', "id must be"),
        ('{"id": "a"}', "task must be a string"),
        ('{"id": "a", "task": "   "}', "the task is empty"),
        ('{"id": "a", "task": "' + "x" * 10_001 + '"}', "the limit is 10,000"),
        ('{"id": "a", "task": "x", "max_iterations": 0}', "max_iterations must be"),
        ('{"id": "a", "task": "x", "max_iterations": 21}', "max_iterations must be"),
        ('{"id": "a", "task": "x", "max_iterations": "3"}', "max_iterations must be"),
        ('{"id": "a", "task": "x", "max_iterations": true}', "max_iterations must be"),
    ],
)
def test_each_bad_line_is_reported_with_its_number_and_skipped(
    tmp_path: Path, line: str, reason: str
) -> None:
    good = json.dumps({"id": "ok", "task": "Write add(a, b)."})
    tasks, problems = load(tmp_path, good, line, good.replace('"ok"', '"ok2"'))
    assert [t.id for t in tasks] == ["ok", "ok2"]
    assert len(problems) == 1
    assert problems[0].startswith("line 2: ")
    assert reason in problems[0]


def test_duplicate_ids_keep_the_first(tmp_path: Path) -> None:
    tasks, problems = load(
        tmp_path,
        json.dumps({"id": "a", "task": "first"}),
        json.dumps({"id": "b", "task": "second"}),
        json.dumps({"id": "a", "task": "third"}),
    )
    assert [t.task for t in tasks] == ["first", "second"]
    assert problems == ["line 3: duplicate id 'a' (first on line 1)"]


def test_unreadable_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read tasks file"):
        load_tasks(tmp_path / "missing.jsonl")
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ValueError, match="cannot read tasks file"):
        load_tasks(binary)
