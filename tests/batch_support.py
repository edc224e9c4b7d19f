"""Shared by the batch and durable-run tests: scripted answers, task files, the CLI."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage

from codeloop.models.script_file import call_kind
from tests.helpers import reply_with_code, reply_with_tests, reply_with_verdict

ADD = "def add(a, b):\n    return a + b\n"
ADD_BUG = "def add(a, b):\n    return a - b\n"
ADD_TESTS = (
    "def test_small():\n    assert add(1, 2) == 3\n\n"
    "def test_zero():\n    assert add(0, 0) == 0\n"
)
TASK_MARK = re.compile(r"\bT(\d+)\b")
RULES = [
    # A task with BUGGY in it gets subtracting code, which its tests and reviewer reject.
    {"call": "solution", "contains": "BUGGY", "reply": reply_with_code(ADD_BUG)},
    {"call": "solution", "contains": "Task T", "reply": reply_with_code(ADD)},
    {"call": "tests", "reply": reply_with_tests(ADD_TESTS)},
    {"call": "review", "contains": "return a - b",
     "reply": reply_with_verdict(False, 2, ["subtracts"])},
    {"call": "review", "reply": reply_with_verdict(True, 9)},
]


def task_text(n: int, buggy: bool = False) -> str:
    return f"Task T{n:02d}: write add(a, b) returning the sum." + (" BUGGY" if buggy else "")


def task_lines(count: int, buggy_every: int = 0) -> list[dict[str, Any]]:
    """`count` tasks t00.. (every `buggy_every`-th one buggy), one iteration each."""
    return [
        {"id": f"t{n:02d}", "task": task_text(n, bool(buggy_every) and n % buggy_every == 0),
         "max_iterations": 1}
        for n in range(count)
    ]


def write_tasks(path: Path, lines: list[dict[str, Any]], extra: tuple[str, ...] = ()) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines) + "".join(extra))
    return path


def write_script(path: Path, delay: float = 0.0, log: Path | None = None) -> str:
    """A `scripted:` model file answering by RULES; returns the model spec."""
    spec: dict[str, Any] = {"delay": delay, "rules": RULES}
    if log is not None:
        spec["log"] = str(log)
    path.write_text(json.dumps(spec))
    return f"scripted:{path}"


def answer(calls: list[tuple[str, str]]) -> Any:
    """An in-process responder applying RULES; records (call kind, task mark) per call."""

    def respond(messages: list[BaseMessage], kwargs: dict[str, Any]) -> str:
        kind, prompt = call_kind(messages, kwargs), "\n".join(m.text for m in messages)
        mark = TASK_MARK.search(prompt)
        calls.append((kind, f"t{mark.group(1)}" if mark else "?"))
        for rule in RULES:
            if rule["call"] == kind and rule.get("contains", "") in prompt:
                return rule["reply"]
        raise AssertionError(f"no rule for {kind}")

    return respond


def logged_calls(log: Path) -> list[dict[str, Any]]:
    """The calls a `scripted:` model logged, each with the task id (tNN) it was for."""
    if not log.exists():
        return []
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    for call in calls:
        mark = TASK_MARK.search(call["prompt"])
        call["task"] = f"t{mark.group(1)}" if mark else "?"
    return calls


def codeloop_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "codeloop.cli", *map(str, args)]


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CODELOOP_DB"}
    env.update(COLUMNS="200", **extra)
    return env


def run_cli(
    *args: str, cwd: Path, timeout: float = 300, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        codeloop_command(*args), cwd=cwd, env=cli_env(**env), capture_output=True, text=True,
        timeout=timeout, check=False,
    )


def leftovers(folder: Path) -> list[Path]:
    """Temporary files of interrupted atomic writes anywhere under `folder`."""
    return [p for p in folder.rglob(".*") if p.is_file()]


def interrupt_when(proc: subprocess.Popen[str], node: str) -> str:
    """Read the progress lines until `node` is next, send SIGINT, return all of stderr."""
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.startswith(node):
            proc.send_signal(signal.SIGINT)
            break
    else:
        raise AssertionError(f"the run ended before {node}: {''.join(seen)}")
    _, rest = proc.communicate(timeout=60)
    return "".join(seen) + rest
