"""The evaluation harness: scoring, the hidden-test rule, resume and the summary."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from codeloop.cli import main
from codeloop.evals import harness
from codeloop.evals.harness import ResultsLog, evaluate, pending
from codeloop.evals.humaneval import load_problems, score
from codeloop.evals.summary import loop_time
from codeloop.models import register_model
from codeloop.models.scripted import ScriptedChatModel
from tests.helpers import ScriptedContext, reply_with_code, reply_with_tests, reply_with_verdict

PROBLEMS = {p.task_id: p for p in load_problems(0, 3)}
CANONICAL = {
    "HumanEval/0": (
        "def has_close_elements(numbers, threshold):\n"
        "    return any(abs(a - b) < threshold for i, a in enumerate(numbers)\n"
        "               for j, b in enumerate(numbers) if i != j)\n"
    ),
    "HumanEval/2": "def truncate_number(number: float) -> float:\n    return number % 1.0\n",
}
WRONG = {
    "HumanEval/0": "def has_close_elements(numbers, threshold):\n    return False\n",
    "HumanEval/2": "def truncate_number(number: float) -> float:\n    return number\n",
}


@pytest.mark.parametrize("task_id", sorted(CANONICAL))
def test_scoring_passes_right_code_and_fails_wrong_code(task_id: str) -> None:
    problem = PROBLEMS[task_id]
    assert score(problem, CANONICAL[task_id]).status == "passed"
    wrong = score(problem, WRONG[task_id])
    assert wrong.status == "failed"
    assert wrong.tests[0].name == "test_hidden_benchmark_check"


def test_scoring_adds_the_prompts_own_imports() -> None:
    # The code uses List without importing it; the prompt's `from typing import List` supplies it.
    code = "def has_close_elements(numbers: List[float], threshold: float) -> bool:\n    return True\n"
    assert score(PROBLEMS["HumanEval/0"], code).status == "failed"  # runs (no NameError), wrong answer


def _replier(code: str):
    def reply(messages, options) -> str:
        if options.get("json_schema"):
            return reply_with_verdict(True, 9)
        if "pytest tests" in messages[-1].text:
            return reply_with_tests("def test_zero():\n    assert truncate_number(1.0) == 0.0\n")
        return reply_with_code(code)

    return reply


def test_hidden_tests_never_reach_a_prompt() -> None:
    problem = PROBLEMS["HumanEval/2"]
    model = ScriptedChatModel(script=_replier(WRONG["HumanEval/2"]))
    context = ScriptedContext(scripted=model, max_iterations=2)
    for mode in ("single", "loop"):
        record = evaluate(problem, mode, context)
        assert record["passed"] is False
    hidden_lines = [line.strip() for line in problem.test.splitlines() if "assert" in line]
    sent = "\n".join(m.text for prompt in model.prompts for m in prompt)
    # single call, then two loop rounds: the docstring's example fails, so only solutions
    assert len(model.prompts) == 1 + 2
    assert problem.prompt.strip() in sent
    for line in hidden_lines:
        assert line not in sent
    assert "def check(candidate)" not in sent and "METADATA" not in sent


def test_loop_record_keeps_how_each_attempt_was_judged() -> None:
    model = ScriptedChatModel(script=_replier(CANONICAL["HumanEval/2"]))
    record = evaluate(PROBLEMS["HumanEval/2"], "loop", ScriptedContext(scripted=model))
    assert record["status"] == "approved" and record["passed"] is True
    [attempt] = record["attempts"]
    assert attempt["hidden"] is True and attempt["approved"] is True
    assert attempt["examples"] == "1/1"  # truncate_number(3.5) -> 0.5 from the docstring
    assert "def test_zero():\n    assert truncate_number(1.0) == 0.0" in record["model_tests"]


def test_a_loops_seconds_do_not_include_scoring_its_attempts(monkeypatch) -> None:
    """Hidden tests of code that loops until their time limit had been charged to the loop."""
    clock = [0.0]
    monkeypatch.setattr(harness, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    real_score = harness.score

    def slow_score(problem, code):
        clock[0] += 20.0
        return real_score(problem, code)

    monkeypatch.setattr(harness, "score", slow_score)
    model = ScriptedChatModel(script=_replier(CANONICAL["HumanEval/2"]))
    record = evaluate(PROBLEMS["HumanEval/2"], "loop", ScriptedContext(scripted=model))
    assert record["passed"] is True and record["attempts"][0]["hidden"] is True
    assert record["seconds"] == 0.0 and clock[0] == 40.0  # the final code, and its one attempt
    assert "attempt_codes" not in record


def test_results_log_survives_a_torn_line_and_pending_skips_done(tmp_path: Path) -> None:
    log = ResultsLog(tmp_path)
    log.append({"task_id": "HumanEval/0", "mode": "single", "passed": True})
    with log.path.open("a") as fh:
        fh.write('{"task_id": "HumanEval/1", "mo')  # killed mid-write
    log.append({"task_id": "HumanEval/0", "mode": "loop", "passed": False})
    records = log.read()
    assert [(r["task_id"], r["mode"]) for r in records] == [("HumanEval/0", "single"), ("HumanEval/0", "loop")]
    todo = pending(list(PROBLEMS.values())[:2], ("single", "loop"), records)
    assert [(p.task_id, m) for p, m in todo] == [("HumanEval/1", "single"), ("HumanEval/1", "loop")]


def test_command_resumes_without_redoing_finished_problems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    model = ScriptedChatModel(script=_replier(CANONICAL["HumanEval/2"]))
    monkeypatch.setenv("CODELOOP_MODEL", register_model(model))
    solved: list[tuple[str, str]] = []
    real = harness.evaluate

    def counting(problem, mode, context):
        solved.append((problem.task_id, mode))
        return real(problem, mode, context)

    monkeypatch.setattr(harness, "evaluate", counting)
    args = ["eval", "humaneval", "--offset", "2", "--limit", "1", "--out", str(tmp_path)]
    assert main([*args, "--mode", "single"]) == 0
    assert main([*args, "--mode", "both"]) == 0
    assert solved == [("HumanEval/2", "single"), ("HumanEval/2", "loop")]
    assert "resuming: 1 already done" in capsys.readouterr().err
    lines = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert len(lines) == 2
    summary = (tmp_path / "summary.md").read_text()
    assert "| single | 1 | 100.0% (1) |" in summary and "| loop | 1 | 100.0% (1) |" in summary
    assert "+0.0 points" in summary
    time_split = "Loop's seconds per problem, over 1 problems (0 had later attempts): first attempt"
    assert time_split in summary and "later attempts 0.0" not in summary
    assert (tmp_path / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_results_made_with_other_settings_are_not_mixed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    model = ScriptedChatModel(script=_replier(CANONICAL["HumanEval/2"]))
    monkeypatch.setenv("CODELOOP_MODEL", register_model(model))
    args = ["eval", "humaneval", "--offset", "2", "--limit", "1", "--mode", "single",
            "--out", str(tmp_path)]
    assert main(args) == 0
    before = (tmp_path / "results.jsonl").read_text()
    assert main([*args, "--max-iterations", "5"]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path} holds results made with max_iterations=3: use another --out" in err
    assert (tmp_path / "results.jsonl").read_text() == before
    assert main(args) == 0  # the same settings resume
    settings = json.loads((tmp_path / "settings.json").read_text())
    del settings["opinion_candidates"]  # as an older codeloop wrote them
    (tmp_path / "settings.json").write_text(json.dumps(settings))
    assert main(args) == 2
    assert "made with no opinion_candidates (an older codeloop)" in capsys.readouterr().err


def test_bad_offset_is_a_clear_error(capsys) -> None:
    assert main(["eval", "humaneval", "--offset", "500"]) == 2
    assert "no humaneval problems at offset 500 (there are 164)" in capsys.readouterr().err


def test_only_runs_the_named_problems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    model = ScriptedChatModel(script=_replier(CANONICAL["HumanEval/2"]))
    monkeypatch.setenv("CODELOOP_MODEL", register_model(model))
    args = ["eval", "humaneval", "--mode", "single", "--out", str(tmp_path)]
    assert main([*args, "--only", "2, 0"]) == 0
    lines = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [r["task_id"] for r in lines] == ["HumanEval/0", "HumanEval/2"]
    assert "humaneval 2 chosen problems" in (tmp_path / "summary.md").read_text()
    assert main([*args, "--only", "2,x9,164"]) == 2
    assert main([*args, "--only", "2", "--offset", "1"]) == 2
    err = capsys.readouterr().err
    assert "no humaneval problem named 164, x9" in err
    assert "--only picks problems by name: leave out --offset and --limit" in err


def test_the_peers_retry_on_what_each_is_shown() -> None:
    problem = PROBLEMS["HumanEval/2"]
    crashes = WRONG["HumanEval/2"] + "\nraise RuntimeError('boom at import')\n"
    # exec sees only errors: a crash at import is retried with it, a wrong value is not.
    model = ScriptedChatModel(script=[reply_with_code(crashes), reply_with_code(WRONG["HumanEval/2"])])
    record = evaluate(problem, "exec", ScriptedContext(scripted=model, max_iterations=3))
    assert record["iterations"] == 2 and record["passed"] is False
    assert "boom at import" in "\n".join(m.text for m in model.prompts[1])
    # examples sees the task's own examples: the wrong value fails truncate_number(3.5) == 0.5.
    model = ScriptedChatModel(script=[reply_with_code(WRONG["HumanEval/2"]),
                                      reply_with_code(CANONICAL["HumanEval/2"])])
    record = evaluate(problem, "examples", ScriptedContext(scripted=model, max_iterations=3))
    assert record["iterations"] == 2 and record["passed"] is True
    assert "truncate_number(3.5)" in "\n".join(m.text for m in model.prompts[1])
    assert len(model.prompts) == 2  # it stops once the examples pass


def test_summary_says_where_the_loops_seconds_go() -> None:
    def loop(seconds: float, *attempts: dict[str, float]) -> dict:
        return {"mode": "loop", "seconds": seconds, "attempts": [{"seconds": a} for a in attempts]}

    records = [
        {"mode": "single", "seconds": 3.0},
        loop(10.0, {"generate": 4.0, "review": 2.0, "execute": 1.0}),
        loop(20.0, {"generate": 4.0, "execute": 1.0}, {"generate": 8.0, "execute": 1.0, "tests": 2.0}),
    ]
    assert loop_time(records) == (
        "Loop's seconds per problem, over 2 problems (1 had later attempts): "
        "first attempt 6.0 (generate 4.0, execute 1.0, review 1.0); "
        "later attempts 5.5 (generate 4.0, execute 0.5, tests 1.0); outside the attempts 3.5."
    )
    assert loop_time(records[:1]) is None  # no loop records: no line
