"""`--ray` before any cluster is joined: options, sizing, and where the run state may live."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from codeloop.batch.ray_cluster import (
    RaySettings,
    check_portable,
    check_run_database,
    embedded,
    resolve_address,
)
from codeloop.cli import build_parser, main
from codeloop.cli.batch import resume_command
from codeloop.context import Context
from codeloop.runs.store import StoreError
from tests.batch_support import task_lines, write_script, write_tasks


@pytest.fixture
def batch_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CODELOOP_DB", raising=False)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    return write_tasks(tmp_path / "tasks.jsonl", task_lines(2)), write_script(tmp_path / "s.json")


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("how", ["option", "RAY_ADDRESS"])
def test_sqlite_on_a_cluster_joined_by_address_is_refused_before_anything_starts(
    batch_files: tuple[Path, str], how: str, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tasks, model = batch_files
    ray = ["--ray", "10.1.2.3:6379"] if how == "option" else ["--ray"]
    if how == "RAY_ADDRESS":
        monkeypatch.setenv("RAY_ADDRESS", "10.1.2.3:6379")
    code = main(["batch", str(tasks), "--model", model, "--out", "out", *ray])
    assert code == 2
    line = one_error_line(capsys)
    assert line.startswith("error: --ray 10.1.2.3:6379 needs the runs in Postgres: set "
                           "CODELOOP_DB=postgresql://")
    assert not (Path("out") / "codeloop.db").exists()  # no run was registered anywhere


def test_worker_options_need_ray(batch_files: tuple[Path, str],
                                 capsys: pytest.CaptureFixture[str]) -> None:
    tasks, model = batch_files
    assert main(["batch", str(tasks), "--model", model, "--workers", "2"]) == 2
    assert one_error_line(capsys) == "error: --workers and --threads-per-worker need --ray"


@pytest.mark.parametrize(("option", "value"), [("--workers", "0"), ("--threads-per-worker", "65")])
def test_worker_sizes_out_of_range_are_refused(
    batch_files: tuple[Path, str], option: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    tasks, model = batch_files
    assert main(["batch", str(tasks), "--model", model, "--ray", "x:1", option, value]) == 2
    assert f"{option} must be" in one_error_line(capsys)


def test_a_model_registered_in_this_process_cannot_go_to_workers() -> None:
    with pytest.raises(ValueError, match="exists only in this process"):
        check_portable(Context(model="registered:mine"))
    check_portable(Context(model="tgi:http://gpu:8080"))


def test_workers_reserve_half_a_cpu_per_thread_or_a_tenth_for_a_remote_model() -> None:
    settings = RaySettings(None, None, threads=4)
    assert settings.worker_cpus(embedded=True) == 2.0
    assert settings.worker_cpus(embedded=False) == 0.1
    assert embedded(Context(model="local")) and embedded(Context(model="local:/m.gguf"))
    assert not embedded(Context(model="tgi:http://gpu:8080"))
    assert settings.worker_count(cluster_cpus=10) == 2  # one per 4 CPUs
    assert RaySettings(None, None).worker_count(cluster_cpus=0.5) == 1
    assert RaySettings(None, 7).worker_count(cluster_cpus=2) == 7  # as asked


def test_the_address_comes_from_the_option_then_ray_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert resolve_address("") is None and resolve_address("local") is None
    monkeypatch.setenv("RAY_ADDRESS", "head:6379")
    assert resolve_address("") == "head:6379"
    assert resolve_address("other:6379") == "other:6379"
    assert resolve_address("local") is None


def test_sqlite_is_fine_on_a_local_instance_and_postgres_anywhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CODELOOP_DB", raising=False)
    check_run_database(RaySettings(None, 2))
    with pytest.raises(StoreError):
        check_run_database(RaySettings("head:6379", 2))
    monkeypatch.setenv("CODELOOP_DB", "postgresql://u:p@db/codeloop")
    check_run_database(RaySettings("head:6379", 2))


def test_the_resume_command_repeats_the_ray_options() -> None:
    def parsed(*words: str) -> argparse.Namespace:
        return build_parser().parse_args(["batch", "t.jsonl", *words])

    args = parsed("--ray", "head:6379", "--workers", "4", "--threads-per-worker", "2")
    assert resume_command(args, Path("out")) == (
        "codeloop batch t.jsonl --out out --ray head:6379 --workers 4 --threads-per-worker 2")
    assert resume_command(parsed("--ray"), Path("out")) == "codeloop batch t.jsonl --out out --ray"
    assert resume_command(parsed(), Path("out")) == "codeloop batch t.jsonl --out out"
