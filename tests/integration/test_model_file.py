"""Where the embedded model file comes from: real part packages, real 491 MB files."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import huggingface_hub.constants
import pytest

from codeloop.models import model_file
from codeloop.models.model_file import HF_FILE, SHA256, SIZE, ModelFileError, resolve_model_file


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty codeloop cache and HF cache, offline, no explicit path."""
    monkeypatch.setenv("CODELOOP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("CODELOOP_MODEL_PATH", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    return tmp_path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def test_assembled_from_the_part_packages(isolated: Path) -> None:
    path = resolve_model_file()
    assert path == isolated / "cache" / HF_FILE
    assert path.stat().st_size == SIZE
    assert _sha256(path) == SHA256
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".assembling")] == []
    assert resolve_model_file() == path  # second call reuses the verified copy


def test_corrupted_cached_copy_is_an_error_that_says_so(isolated: Path) -> None:
    path = resolve_model_file()
    with path.open("r+b") as fh:
        fh.seek(SIZE // 2)
        byte = fh.read(1)
        fh.seek(SIZE // 2)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ModelFileError, match=r"fails its SHA-256 check.*delete it"):
        resolve_model_file()


def test_interrupted_or_bad_assembly_leaves_no_model(isolated: Path) -> None:
    parts = model_file._part_files()
    assert parts is not None
    target = isolated / "cache" / HF_FILE
    with pytest.raises(ModelFileError, match="fails its SHA-256 check"):
        model_file.assemble(parts[:-1], target)  # a missing part: wrong bytes
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_explicit_path_wins_and_is_checked(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = resolve_model_file()
    copy = isolated / "elsewhere.gguf"
    os.link(real, copy)
    monkeypatch.setenv("CODELOOP_MODEL_PATH", str(copy))
    assert resolve_model_file() == copy
    monkeypatch.setenv("CODELOOP_MODEL_PATH", str(isolated / "missing.gguf"))
    with pytest.raises(ModelFileError, match="does not exist"):
        resolve_model_file()
    not_gguf = isolated / "notes.txt"
    not_gguf.write_text("hello")
    monkeypatch.setenv("CODELOOP_MODEL_PATH", str(not_gguf))
    with pytest.raises(ModelFileError, match="not a GGUF model file"):
        resolve_model_file()


def test_hugging_face_cache_comes_before_assembly(isolated: Path) -> None:
    source = model_file._part_files()
    assert source is not None
    snapshot = isolated / "hf" / "models--Qwen--Qwen2.5-Coder-0.5B-Instruct-GGUF" / "snapshots" / "abc"
    snapshot.mkdir(parents=True)
    (snapshot.parent.parent / "refs").mkdir()
    (snapshot.parent.parent / "refs" / "main").write_text("abc")
    shutil.copyfile(source[0], snapshot / HF_FILE)  # any file: the HF cache is trusted as is
    assert resolve_model_file() == snapshot / HF_FILE
    assert not (isolated / "cache" / HF_FILE).exists()
