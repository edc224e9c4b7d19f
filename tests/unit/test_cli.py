"""The `codeloop run` command with a scripted model: files, exit codes, progress, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codeloop.cli import main
from codeloop.models import register_model
from codeloop.models.scripted import ScriptedChatModel
from tests.helpers import reply_with_code, reply_with_tests, reply_with_verdict

ADD = "def add(a, b):\n    return a + b\n"
TESTS = "def test_add():\n    assert add(1, 2) == 3\n"


@pytest.fixture
def script(monkeypatch: pytest.MonkeyPatch):
    def use(replies: list[str]) -> ScriptedChatModel:
        model = ScriptedChatModel(script=replies)
        monkeypatch.setenv("CODELOOP_MODEL", register_model(model))
        return model

    return use


def test_approved_run_writes_the_result_folder(script, tmp_path: Path, capsys) -> None:
    script([reply_with_code(ADD), reply_with_tests(TESTS), reply_with_verdict(True, 9)])
    code = main(["run", "Write add(a, b).", "--out", str(tmp_path)])
    assert code == 0
    [folder] = [p for p in tmp_path.iterdir() if p.is_dir()]  # beside it: codeloop.db
    assert folder.name.endswith("-write-add-a-b")
    assert (folder / "solution.py").read_text().strip() == ADD.strip()
    assert "def test_add" in (folder / "test_solution.py").read_text()
    report = json.loads((folder / "report.json").read_text())
    assert report["status"] == "approved" and report["iterations"] == 1
    assert report["context"]["max_iterations"] == 3
    assert report["context"]["examples_suffice"] == 2
    err = capsys.readouterr().err
    assert "generate" in err and "review" in err and "approved after 1 iteration(s)" in err


def test_not_approved_exits_1_and_json_goes_to_stdout(script, tmp_path: Path, capsys) -> None:
    script([reply_with_code(ADD), reply_with_tests(TESTS), reply_with_verdict(False, 3, ["no"])])
    code = main(["run", "Write add.", "--max-iterations", "1", "--out", str(tmp_path), "--json"])
    assert code == 1
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "not_approved"
    assert report["attempts"][0]["verdict"]["issues"] == ["no"]


def test_task_from_file(script, tmp_path: Path) -> None:
    script([reply_with_code(ADD), reply_with_tests(TESTS), reply_with_verdict(True, 9)])
    task = tmp_path / "task.md"
    task.write_text("# Add\nWrite add(a, b).\n")
    assert main(["run", "--file", str(task), "--out", str(tmp_path / "out")]) == 0


def test_errors_are_one_line_without_traceback(script, tmp_path: Path, capsys) -> None:
    script([])
    assert main(["run", "a", "--file", str(tmp_path / "t.md")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: give the task as an argument or with --file, not both"


def test_debug_shows_the_traceback(script) -> None:
    script([])
    with pytest.raises(ValueError, match="the task is empty"):
        main(["run", " ", "--debug"])


def test_result_files_get_ordinary_permissions(tmp_path: Path) -> None:
    from codeloop.runs import folders as results
    from codeloop.runs.folders import write_atomic

    write_atomic(tmp_path / "x.txt", "hi")
    assert (tmp_path / "x.txt").stat().st_mode & 0o777 == 0o666 & ~results.UMASK
    assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]


def test_the_reviewer_model_option_sends_the_review_to_that_model(script, tmp_path, capsys):
    generator = script([reply_with_code(ADD), reply_with_tests(TESTS)])
    reviewer = ScriptedChatModel(script=[reply_with_verdict(True, 9)])
    spec = register_model(reviewer)
    code = main(["run", "Write add(a, b).", "--reviewer-model", spec, "--out", str(tmp_path),
                 "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["context"]["reviewer_model"] == spec
    assert len(generator.prompts) == 2 and len(reviewer.prompts) == 1  # solution, tests; verdict


def test_a_reviewer_spec_whose_provider_is_missing_is_one_line(script, tmp_path, capsys):
    script([])
    code = main(["run", "Write add.", "--reviewer-model", "ollama:qwen2.5-coder", "--out",
                 str(tmp_path)])
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        "error: the ollama model spec needs its LangChain package: pip install 'codeloop[ollama]'"
    )
    assert not list(tmp_path.iterdir())  # failed before anything was written


def test_a_stated_rule_left_untested_is_named_when_the_run_ends(script, tmp_path: Path,
                                                                capsys) -> None:
    task = "Write add(a, b) returning the sum. Adding zero gives the other number back."
    two = "def test_rule_1_small():\n    assert add(1, 2) == 3\n"
    script([reply_with_code(ADD), reply_with_tests(two), reply_with_tests(two)])
    assert main(["run", task, "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "not_approved after 1 iteration(s)" in err
    assert "no test covers this stated rule: Adding zero gives the other number back." in err


def test_examples_suffice_reaches_the_run_and_a_bad_value_is_one_line(script, tmp_path: Path,
                                                                    capsys) -> None:
    script([reply_with_code(ADD), reply_with_tests(TESTS), reply_with_verdict(True, 9)])
    assert main(["run", "Write add(a, b).", "--examples-suffice", "5", "--out", str(tmp_path)]) == 0
    [folder] = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert json.loads((folder / "report.json").read_text())["context"]["examples_suffice"] == 5
    assert main(["run", "Write add(a, b).", "--examples-suffice", "0", "--out", str(tmp_path)]) == 2
    assert "examples_suffice must be at least 1, got 0" in capsys.readouterr().err
