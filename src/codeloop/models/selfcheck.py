"""Before the first model call: a check that the installed llama.cpp runs on this CPU at all.

A llama.cpp built for another CPU (a copied venv, a wheel from a shared cache, pip's own
`-march=native` build on a CPU with Intel AMX) does not fail politely: the process dies
of SIGILL in the middle of a run, with no message. So codeloop first decodes a few tokens
in a child process. If the child dies by a signal, the load fails with one line naming the
cause and the command that rebuilds llama.cpp for this machine. A pass is remembered per
library build and CPU (a marker file in codeloop's cache), so the child runs once.
"""

from __future__ import annotations

import functools
import hashlib
import json
import signal
import subprocess
import sys
from importlib import util
from pathlib import Path

from codeloop.models.model_file import cache_dir

CHILD_TIMEOUT = 120.0  # a cold 0.5 GB model file on a slow disk, with margin
# The child loads the library and decodes a short prompt: the matmuls of prompt processing
# are where a wrong instruction set shows. Plain Python, no codeloop imports, so the check
# costs the library's own start and little more.
CHILD = """
import sys
from llama_cpp import Llama
llama = Llama(model_path=sys.argv[1], n_ctx=128, n_threads=1, verbose=False)
llama.eval(llama.tokenize(b"def add(a, b):\\n    return a + b\\n"))
llama.eval([llama.token_eos()])
"""


def library_files() -> list[Path]:
    """The installed llama.cpp shared libraries, found without loading them."""
    spec = util.find_spec("llama_cpp")
    if spec is None or not spec.submodule_search_locations:
        return []
    lib = Path(next(iter(spec.submodule_search_locations))) / "lib"
    return sorted(lib.glob("*.so*")) if lib.is_dir() else []


def library_identity() -> list[list[object]]:
    """Each library's name, size and mtime: changes whenever anything reinstalls them."""
    return [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in library_files()]


def rebuild_command() -> str:
    """The command that rebuilds llama.cpp for this machine, in the running environment."""
    return f"{sys.executable} -m codeloop.models.llama_build --force"


class EngineCheckError(RuntimeError):
    """The installed llama.cpp cannot run here; the message says why and how to fix it."""


def check_engine(model_path: str) -> None:
    """Raise EngineCheckError unless llama.cpp decodes on this CPU (checked once per build)."""
    libraries = library_identity()
    if not libraries:
        return  # not installed: loading says so, with the install command
    _check_once(_key(libraries), model_path)


def _key(libraries: list[list[object]]) -> str:
    """The library files as installed, and the CPU model and flags they run on."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        cpuinfo = ""
    named = ("model name", "flags", "Features", "CPU part")
    cpu = [line for line in cpuinfo.splitlines()[:40] if line.startswith(named)]
    blob = json.dumps([libraries, cpu, sys.executable])
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


@functools.lru_cache(maxsize=8)
def _check_once(key: str, model_path: str) -> None:
    """Run the child unless a marker says this build passed on this CPU (failures never count)."""
    marker = cache_dir() / "selfcheck" / f"{key}.ok"
    if marker.exists():
        return
    _run_child(model_path)
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(f"{model_path}\n", encoding="utf-8")
    except OSError:
        pass  # a read-only cache only costs one child per process


def _run_child(model_path: str) -> None:
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, model_path],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=CHILD_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise EngineCheckError(
            f"llama.cpp's self-check (decoding a few tokens) did not finish in "
            f"{CHILD_TIMEOUT:g} s; rebuild it for this machine with: {rebuild_command()}"
        ) from None
    if done.returncode < 0:
        name = _signal_name(-done.returncode)
        raise EngineCheckError(
            f"the installed llama.cpp build uses instructions this CPU cannot run (its test "
            f"decode was killed by {name}); rebuild it for this machine with: {rebuild_command()}"
        )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise EngineCheckError(f"llama.cpp failed its self-check: {last}")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
