"""The llama.cpp self-check: a build that dies on this CPU is named, with the fix, before any run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from codeloop.models import selfcheck
from codeloop.models.selfcheck import EngineCheckError, check_engine
from codeloop.server.health import check_backend

HEALTHY = """
import os

class Llama:
    def __init__(self, **settings):
        with open(os.environ["FAKE_LLAMA_LOG"], "a") as log:
            log.write("decode\\n")

    def tokenize(self, text):
        return list(range(8))

    def eval(self, tokens):
        pass

    def token_eos(self):
        return 0
"""
# What a build for another CPU does: the first matmul raises SIGILL and the kernel kills the process.
SIGILL = """
import os, signal

class Llama:
    def __init__(self, **settings):
        pass

    def tokenize(self, text):
        return list(range(8))

    def eval(self, tokens):
        os.kill(os.getpid(), signal.SIGILL)
"""


def stand_in(tmp_path: Path, source: str) -> Path:
    """A `llama_cpp` package with a library file, importable from the returned folder."""
    root = tmp_path / "stand-in"
    (root / "llama_cpp" / "lib").mkdir(parents=True)
    (root / "llama_cpp" / "__init__.py").write_text(source)
    (root / "llama_cpp" / "lib" / "libggml-cpu.so").write_bytes(b"\x7fELF stand-in")
    return root


def gguf(tmp_path: Path) -> Path:
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF" + bytes(60))
    return model


@pytest.fixture
def use(tmp_path, monkeypatch):
    """Make a stand-in llama_cpp the one this process finds and the self-check's child imports."""

    def install(source: str) -> Path:
        root = stand_in(tmp_path, source)
        monkeypatch.delitem(sys.modules, "llama_cpp", raising=False)
        monkeypatch.syspath_prepend(str(root))
        monkeypatch.setenv("PYTHONPATH", str(root))
        monkeypatch.setenv("CODELOOP_CACHE_DIR", str(tmp_path / "cache"))
        monkeypatch.setenv("FAKE_LLAMA_LOG", str(tmp_path / "decodes.log"))
        selfcheck._check_once.cache_clear()
        return root

    yield install
    selfcheck._check_once.cache_clear()


def decodes(tmp_path: Path) -> int:
    log = tmp_path / "decodes.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_a_healthy_engine_is_checked_once_per_build_and_cpu(use, tmp_path):
    root = use(HEALTHY)
    model = str(gguf(tmp_path))
    check_engine(model)
    check_engine(model)
    assert decodes(tmp_path) == 1
    selfcheck._check_once.cache_clear()  # a new process: the marker file answers
    check_engine(model)
    assert decodes(tmp_path) == 1
    assert len(list((tmp_path / "cache" / "selfcheck").glob("*.ok"))) == 1
    library = root / "llama_cpp" / "lib" / "libggml-cpu.so"
    library.write_bytes(b"\x7fELF rebuilt, another size")  # a new build is checked again
    check_engine(model)
    assert decodes(tmp_path) == 2


def test_a_build_that_dies_of_sigill_fails_with_the_cause_and_the_rebuild_command(use, tmp_path):
    use(SIGILL)
    with pytest.raises(EngineCheckError) as caught:
        check_engine(str(gguf(tmp_path)))
    message = str(caught.value)
    assert "uses instructions this CPU cannot run" in message
    assert "killed by SIGILL" in message
    assert message.endswith(f"{sys.executable} -m codeloop.models.llama_build --force")
    assert not list((tmp_path / "cache").rglob("*.ok"))  # a failure is never remembered


def test_health_reports_the_broken_build_instead_of_dying(use, tmp_path):
    use(SIGILL)
    probe = check_backend(f"local:{gguf(tmp_path)}")
    assert not probe.ok
    assert probe.reason == (
        "the installed llama.cpp build cannot run on this CPU "
        "(the server log has the command that rebuilds it)"
    )


def test_without_llama_cpp_there_is_nothing_to_check(monkeypatch, tmp_path):
    monkeypatch.setattr(selfcheck, "library_identity", lambda: [])
    check_engine(str(gguf(tmp_path)))  # no child, no error: loading says how to install it


def test_codeloop_run_exits_2_with_one_line_and_no_traceback(tmp_path):
    root = stand_in(tmp_path, SIGILL)
    env = {**os.environ, "PYTHONPATH": str(root), "CODELOOP_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-m", "codeloop.cli", "run", "--model", f"local:{gguf(tmp_path)}",
         "--out", str(tmp_path / "results"), "Write is_even(n)."],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: the installed llama.cpp build uses instructions this CPU cannot run")
    assert lines[0].endswith("-m codeloop.models.llama_build --force")
    assert "Traceback" not in done.stderr and done.stdout == ""
