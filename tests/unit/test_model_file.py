"""Assembly and verification logic on small files (the real 491 MB run is an integration test)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from codeloop.models import model_file
from codeloop.models.model_file import ModelFileError, assemble, verify


@pytest.fixture
def parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    files = []
    for n, data in enumerate([b"GGUF" + b"a" * 100, b"b" * 50, b"c" * 7]):
        path = tmp_path / f"part{n}.bin"
        path.write_bytes(data)
        files.append(path)
    whole = b"".join(p.read_bytes() for p in files)
    monkeypatch.setattr(model_file, "SHA256", hashlib.sha256(whole).hexdigest())
    return files


def test_assemble_writes_only_a_verified_file(parts: list[Path], tmp_path: Path) -> None:
    target = tmp_path / "out" / "model.gguf"
    assemble(parts, target)
    assert target.read_bytes() == b"".join(p.read_bytes() for p in parts)
    assert sorted(p.name for p in target.parent.iterdir()) == ["model.gguf", "model.gguf.verified"]


def test_bad_parts_leave_nothing(parts: list[Path], tmp_path: Path) -> None:
    target = tmp_path / "out" / "model.gguf"
    with pytest.raises(ModelFileError, match="fails its SHA-256 check"):
        assemble(list(reversed(parts)), target)
    assert list(target.parent.iterdir()) == []


def test_verify_trusts_its_stamp_until_the_file_changes(parts: list[Path], tmp_path: Path) -> None:
    target = tmp_path / "model.gguf"
    assemble(parts, target)
    verify(target)  # stamp matches: no error
    target.write_bytes(target.read_bytes()[:-1] + b"X")
    with pytest.raises(ModelFileError, match=f"model file {target} fails its SHA-256 check"):
        verify(target)


def test_missing_part_packages_mean_no_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_file, "PART_PACKAGES", [("no_such_package_xyz", "data/x.bin")])
    assert model_file._part_files() is None


def test_nothing_found_says_how_to_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CODELOOP_MODEL_PATH", raising=False)
    monkeypatch.setenv("CODELOOP_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for name in ("_from_hf_cache", "_from_parts"):
        monkeypatch.setattr(model_file, name, lambda: None)
    with pytest.raises(ModelFileError, match=r"pip install 'codeloop\[local\]'"):
        model_file.resolve_model_file()
