"""Solve benchmark problems in each mode, score them, log one line each.

Modes: `single`, one call; `loop`, the whole graph; and two simple loops to measure it
against, with the same prompts and sampling settings: `exec` (run the code, retry with
the error it raises, as LangGraph's code-assistant tutorial does) and `examples` (retry
on the task's own examples only: no model tests, no review). Each retry of the peers is
shown the findings the loop would show; they stop after `max_iterations` tries.

`results.jsonl` is the source of truth: one JSON line per (problem, mode), appended and
fsynced as each finishes, so an interrupted evaluation resumes where it stopped and
never redoes a finished problem.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from codeloop.context import Context
from codeloop.evals.humaneval import Problem, score
from codeloop.models import chat_model
from codeloop.nodes.checks import Check, blocking_failures, run_checks
from codeloop.nodes.common import prompts_for
from codeloop.nodes.examples import is_example, task_examples
from codeloop.nodes.extract import extract, with_task_definitions
from codeloop.nodes.generate import ask_model, solution_request
from codeloop.runs.runner import run_task
from codeloop.sandbox import Limits, TestReport, call_sandboxed
from codeloop.state import Attempt, CheckDict, TestReportDict, latest_model_tests

if TYPE_CHECKING:  # Ray is an optional extra: run_all_on is used only with it
    from codeloop.batch.ray_pool import OnWorkers, WorkerPool

Mode = Literal["single", "loop", "exec", "examples"]
MODES: tuple[Mode, ...] = ("single", "loop", "exec", "examples")
BOTH: tuple[Mode, ...] = ("single", "loop")
RESULTS_FILE = "results.jsonl"
SETTINGS_FILE = "settings.json"


def solve_single(problem: Problem, context: Context) -> dict[str, Any]:
    """The baseline: one generation call, no tests, no review."""
    return _simple_loop(problem, context, lambda code: None, tries=1)


def solve_exec(problem: Problem, context: Context) -> dict[str, Any]:
    """A peer: run the code (import it in the sandbox), retry with the error it raises."""

    def problem_of(code: str) -> Attempt | None:
        run = call_sandboxed(code, [], Limits(wall_seconds=context.test_timeout))
        if run.status == "done":
            return None
        report = TestReport(status="error", detail=run.detail or run.status).as_state()
        return _failed(code, report, [])

    return _simple_loop(problem, context, problem_of, context.max_iterations)


def solve_examples(problem: Problem, context: Context) -> dict[str, Any]:
    """A peer: retry on the task's own examples only (no model tests, no review)."""

    def problem_of(code: str) -> Attempt | None:
        examples = [Check(e.name, e.call, e.expected, "task")
                    for e in task_examples(problem.prompt, code)]
        checks = run_checks(code, examples, Limits(wall_seconds=context.test_timeout))
        failing = [c for c in checks if c["outcome"] != "passed"]
        if not failing:
            return None
        tests = [{"name": c["name"], "outcome": "failed", "message":
                  f"{c['call']} should give {c['expected']}, got {c['actual']}"} for c in failing]
        report = TestReport.model_validate({"status": "failed", "tests": tests}).as_state()
        return _failed(code, report, checks)

    return _simple_loop(problem, context, problem_of, context.max_iterations)


def _simple_loop(
    problem: Problem, context: Context, problem_of: Callable[[str], Attempt | None], tries: int
) -> dict[str, Any]:
    """Generate, and while `problem_of(code)` finds something and tries are left, retry."""
    model = chat_model(context)
    prompts = prompts_for(model)
    spent = {"prompt": 0, "completion": 0}
    previous: Attempt | None = None
    code = ""
    for attempt in range(tries):
        messages = solution_request(model, prompts, problem.prompt, "", previous, None,
                                    retry=attempt > 0)
        reply = ask_model(model, messages, context, attempt, context.max_new_tokens,
                          list(prompts.stop))
        usage = reply.usage_metadata or {"input_tokens": 0, "output_tokens": 0}
        spent["prompt"] += usage["input_tokens"]
        spent["completion"] += usage["output_tokens"]
        found = extract(reply.text)
        code = with_task_definitions(found.code, problem.prompt)
        previous = _failed(code, None, [], found.error) if found.error else problem_of(code)
        if previous is None:
            break
    return {"code": code, "status": None, "iterations": attempt + 1, "tokens": spent}


def _failed(code: str, report: TestReportDict | None, checks: list[CheckDict],
            error: str | None = None) -> Attempt:
    """What a peer's retry is told: an attempt shaped like the loop's, for its findings."""
    attempt: Attempt = {"iteration": 1, "code": code, "tests": "", "parse_error": error,
                        "checks": checks, "tokens": {}, "seconds": {}}
    if report is not None:
        attempt["report"] = report
    return attempt


def solve_loop(problem: Problem, context: Context) -> dict[str, Any]:
    """The full graph, given only the prompt."""
    result = run_task(problem.prompt, context)
    attempts = result.attempts
    return {
        "code": result.final["code"] if result.final else "",
        "status": result.status,
        "iterations": len(attempts),
        "attempts": [_attempt_brief(a) for a in attempts],
        "attempt_codes": [a["code"] for a in attempts],  # scored by evaluate, off the clock
        # The tests the model wrote for the run (shared by its attempts): to see why a run
        # ended as it did, e.g. which expected values were wrong.
        "model_tests": latest_model_tests(attempts),
        "tokens": {
            key: sum(a["tokens"].get(key, 0) for a in attempts) for key in ("prompt", "completion")
        },
    }


def _attempt_brief(attempt: Attempt) -> dict[str, Any]:
    """How one attempt was judged by the loop (evaluate adds the hidden tests' verdict).

    Kept for analysing the loop: whether the attempt it chose was its best one.
    """
    report: dict[str, Any] = dict(attempt.get("report") or {})
    verdict: dict[str, Any] = dict(attempt.get("verdict") or {})
    tests = report.get("tests", [])
    examples = [t for t in tests if is_example(t["name"])]
    return {
        "tests": f"{report.get('passed', 0)}/{report.get('total', 0)}",
        "examples": f"{sum(t['outcome'] == 'passed' for t in examples)}/{len(examples)}",
        "status": report.get("status"),
        "score": verdict.get("score"),
        "issues": verdict.get("issues", [])[:3],
        "unmet_rules": [a["rule"] for a in verdict.get("rules", []) if not a["met"]],
        "refuted": sum(bool(c.get("refuted")) for c in attempt.get("checks", [])),
        "failing": blocking_failures(attempt)[:5],
        "candidates": attempt.get("candidates", []),
        "approved": attempt.get("approved", False),
        "seconds": attempt.get("seconds", {}),
    }


SOLVERS: dict[Mode, Callable[[Problem, Context], dict[str, Any]]] = {
    "single": solve_single,
    "loop": solve_loop,
    "exec": solve_exec,
    "examples": solve_examples,
}


def evaluate(problem: Problem, mode: Mode, context: Context) -> dict[str, Any]:
    """Solve `problem` in `mode`, then score it with the hidden tests: one results line.

    The seconds are the solver's alone. Scoring runs after the clock stops, for each of
    a loop's attempts too: code that loops until the hidden tests' time limit had added up
    to 70 s to a loop's seconds and nothing to a single call's.
    """
    started = time.monotonic()
    solved = SOLVERS[mode](problem, context)
    seconds = time.monotonic() - started
    hidden = score(problem, solved["code"])
    briefs, codes = solved.get("attempts", []), solved.get("attempt_codes", [])
    attempts = [
        {**brief, "hidden": bool(code) and score(problem, code).status == "passed"}
        for brief, code in zip(briefs, codes, strict=True)
    ]
    return {
        "task_id": problem.task_id,
        "mode": mode,
        "passed": hidden.status == "passed",
        "status": solved["status"],
        "iterations": solved["iterations"],
        "tokens": solved["tokens"],
        "seconds": round(seconds, 3),
        "hidden": {"status": hidden.status, "detail": hidden.detail[:300]},
        "code": solved["code"],
        "attempts": attempts,
        "model_tests": solved.get("model_tests", ""),
    }


class ResultsLog:
    """Append-only results.jsonl; a torn last line (a crash mid-write) is ignored on read."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / RESULTS_FILE
        self.lock = threading.Lock()

    def claim(self, settings: dict[str, Any]) -> None:
        """Record the run's settings, or refuse to mix results made with other settings.

        Resuming matches finished work by problem and mode only, so a rerun with another
        model or budget into the same folder would otherwise blend two experiments.
        """
        path = self.path.with_name(SETTINGS_FILE)
        if path.exists():
            before = json.loads(path.read_text(encoding="utf-8"))
            changed = sorted(k for k in settings.keys() | before.keys()
                             if settings.get(k) != before.get(k))
            if changed:
                was = ", ".join(f"{k}={before[k]!r}" if k in before
                                else f"no {k} (an older codeloop)" for k in changed)
                raise ValueError(f"{self.path.parent} holds results made with {was}: "
                                 "use another --out, or the same settings to resume")
        else:
            path.write_text(json.dumps(settings, indent=1) + "\n", encoding="utf-8")

    def read(self) -> list[dict[str, Any]]:
        """Every complete record so far."""
        if not self.path.exists():
            return []
        records = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return records

    def append(self, record: dict[str, Any]) -> None:
        """Write one record durably."""
        line = json.dumps(record) + "\n"
        with self.lock, self.path.open("a", encoding="utf-8") as fh:
            if fh.tell() and not self._ends_with_newline():
                fh.write("\n")  # seal a torn line so the new record starts clean
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    def _ends_with_newline(self) -> bool:
        with self.path.open("rb") as fh:
            fh.seek(-1, os.SEEK_END)
            return fh.read(1) == b"\n"


def pending(
    problems: list[Problem], modes: tuple[Mode, ...], done: list[dict[str, Any]]
) -> list[tuple[Problem, Mode]]:
    """The (problem, mode) pairs not yet in the log."""
    finished = {(r["task_id"], r["mode"]) for r in done}
    return [(p, m) for p in problems for m in modes if (p.task_id, m) not in finished]


def run_all(
    work: list[tuple[Problem, Mode]],
    context: Context,
    log: ResultsLog,
    concurrency: int,
) -> Iterator[dict[str, Any]]:
    """Evaluate every pair, `concurrency` at a time, yielding each record once logged.

    A pair whose run raised (a model timeout, say) is yielded with an "error" and not
    logged, so a rerun retries it. On Ctrl-C, work not yet started is cancelled; what
    finished is already in the log.
    """
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="eval")
    futures: dict[Future[dict[str, Any]], tuple[Problem, Mode]] = {
        pool.submit(evaluate, problem, mode, context): (problem, mode) for problem, mode in work
    }
    try:
        for future in as_completed(futures):
            problem, mode = futures[future]
            try:
                record = future.result()
            except Exception as exc:  # one problem's failure must not end the evaluation
                error = f"{type(exc).__name__}: {exc}"
                yield {"task_id": problem.task_id, "mode": mode, "error": error}
                continue
            log.append(record)
            yield record
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def run_all_on(
    pool: WorkerPool,
    work: list[tuple[Problem, Mode]],
    context: Context,
    log: ResultsLog,
    check: Callable[[], None],
    on_workers: OnWorkers | None = None,
) -> Iterator[dict[str, Any]]:
    """`run_all` on Ray workers (codeloop.batch.ray_pool): they solve and score, this logs.

    The same records, logged the same way, only here: the workers need no shared
    filesystem. A pair whose worker died is evaluated again from the start on another
    (a loop run here is not checkpointed). `check` raises Stopped on Ctrl-C.
    """
    from codeloop.batch.ray_pool import Job

    jobs = [Job(f"{problem.task_id} {mode}", (problem, mode)) for problem, mode in work]

    def call(worker: Any, payload: tuple[Problem, Mode]) -> Any:
        return worker.call.remote(evaluate, *payload, context)

    for done in pool.run(jobs, call, check, on_workers):
        problem, mode = done.job.payload
        if done.finished is None:
            error = f"{type(done.error).__name__}: {done.error}"
            yield {"task_id": problem.task_id, "mode": mode, "error": error}
            continue
        log.append(done.finished.value)
        yield done.finished.value
