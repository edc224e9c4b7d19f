"""Build llama-cpp-python for the CPU it runs on: explicit instruction sets, never Intel AMX.

pip compiles llama.cpp with `-march=native`. On a CPU with Intel AMX that compiles in a
matmul path which, in the llama.cpp copy llama-cpp-python 0.3.36 vendors, dies with
SIGILL on its first tile instruction (the tile configuration's writes are optimised away;
upstream ggml-org/llama.cpp PR 26954). So codeloop never builds natively: it reads the
instruction sets the CPU and kernel offer (`/proc/cpuinfo`: the kernel hides what it does
not enable) and names them as CMake options, AVX-512 where present, else AVX2, else a
baseline, and the AMX options always off.

A wheel is reused only where it was built for: the options, the llama-cpp-python version,
the Python and the platform make a key, wheels live in codeloop's cache under that key,
and pip's own wheel cache is never used for it (pip would hand a wheel built on one CPU to
another). The venv records which key its build came from, so a venv copied to another
machine is rebuilt (or served from the cache) rather than trusted.

    python -m codeloop.models.llama_build            # install, unless the venv's build fits
    python -m codeloop.models.llama_build --force    # build again, even from the cache
    python -m codeloop.models.llama_build --print    # show the options for this machine
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from codeloop.models.model_file import cache_dir
from codeloop.models.selfcheck import library_identity

VERSION = "0.3.36"  # the `local` extra's pin; a unit test keeps the two equal
PACKAGE = "llama-cpp-python"
HEARTBEAT = 30.0  # seconds between "still building" lines

# x86-64: (CMake option, the /proc/cpuinfo flags it needs), in the order ggml lists them.
X86_OPTIONS = [
    ("GGML_SSE42", {"sse4_2"}),
    ("GGML_AVX", {"avx"}),
    ("GGML_AVX2", {"avx2"}),
    ("GGML_FMA", {"fma"}),
    ("GGML_F16C", {"f16c"}),
    ("GGML_BMI2", {"bmi2"}),
    ("GGML_AVX_VNNI", {"avx_vnni"}),
    # ggml's AVX512 option compiles with -mavx512f/cd/vl/dq/bw: all five must be there.
    ("GGML_AVX512", {"avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw"}),
    ("GGML_AVX512_VBMI", {"avx512f", "avx512vbmi"}),
    ("GGML_AVX512_VNNI", {"avx512f", "avx512_vnni"}),
    ("GGML_AVX512_BF16", {"avx512f", "avx512_bf16"}),
]
LABEL = {"AVX512": "AVX-512", "SSE42": "SSE4.2"}
NEVER = ["GGML_AMX_TILE", "GGML_AMX_INT8", "GGML_AMX_BF16"]
# aarch64: (-march extension, the /proc/cpuinfo Features word that says the CPU has it).
ARM_EXTENSIONS = [("dotprod", "asimddp"), ("fp16", "asimdhp"), ("i8mm", "i8mm")]


class BuildError(RuntimeError):
    """The build or the install failed; the message says where the log is."""


def cpu_flags(cpuinfo: str) -> set[str]:
    """The instruction-set flags in /proc/cpuinfo text (x86 `flags`, aarch64 `Features`)."""
    for line in cpuinfo.splitlines():
        name, _, value = line.partition(":")
        if name.strip() in {"flags", "Features"}:
            return set(value.split())
    return set()


def cmake_options(machine: str, flags: set[str]) -> list[str]:
    """The CMake options that build llama.cpp for a CPU with `flags` (never -march=native).

    Every x86 option is given explicitly, on or off: with GGML_NATIVE off, ggml turns
    SSE4.2 to BMI2 on by default, which a baseline CPU may not have.
    """
    options = ["-DGGML_NATIVE=OFF"]
    arch = normal_machine(machine)
    if arch == "x86_64":
        for option, needs in X86_OPTIONS:
            options.append(f"-D{option}={'ON' if needs <= flags else 'OFF'}")
        options += [f"-D{option}=OFF" for option in NEVER]
    elif arch == "aarch64":
        extensions = "".join(f"+{ext}" for ext, feature in ARM_EXTENSIONS if feature in flags)
        options.append(f"-DGGML_CPU_ARM_ARCH=armv8.2-a{extensions}" if extensions else
                       "-DGGML_CPU_ARM_ARCH=armv8-a")
    return options


def describe(options: list[str]) -> str:
    """A short name for what the options target, e.g. 'x86-64 AVX2 (SSE4.2, AVX, FMA, ...)'."""
    for option in options:
        if option.startswith("-DGGML_CPU_ARM_ARCH="):
            return f"aarch64 {option.split('=', 1)[1]}"
    on = [o[len("-DGGML_") : -len("=ON")] for o in options if o.endswith("=ON")]
    for top in ("AVX512", "AVX2", "AVX", "SSE42"):
        if top in on:
            rest = ", ".join(LABEL.get(name, name) for name in on if name != top)
            return f"x86-64 {LABEL.get(top, top)}" + (f" ({rest})" if rest else "")
    return "generic"


def normal_machine(machine: str) -> str:
    """`uname -m` spellings folded into the two names this module knows."""
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine.lower(), machine.lower())


def this_machine_options() -> list[str]:
    """The options for the machine this process runs on."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        cpuinfo = ""
    return cmake_options(platform.machine(), cpu_flags(cpuinfo))


def build_key(options: list[str]) -> str:
    """What a wheel is reused by: the options, the version, the Python and the platform."""
    parts = [VERSION, sys.implementation.cache_tag or "", sysconfig.get_platform(), *options]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def marker_path() -> Path:
    """Where a venv records the key of the build installed in it."""
    return Path(sys.prefix) / "codeloop-llama-build.json"


def installed_fits(key: str) -> bool:
    """True when the installed llama.cpp is the one codeloop built under `key`."""
    try:
        recorded = json.loads(marker_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    libraries = library_identity()
    return bool(libraries) and recorded == {"key": key, "libraries": libraries}


def ensure_built(force: bool = False, say: Callable[[str], object] = print) -> bool:
    """Install a llama-cpp-python built for this machine, unless the venv has one already.

    Returns True when it installed something; says what it does through `say`.
    """
    options = this_machine_options()
    key = build_key(options)
    target = describe(options)
    if not force and installed_fits(key):
        return False
    wheels = cache_dir() / "llama-wheels" / key
    cached = sorted(wheels.glob("*.whl"))
    if force or not cached:
        say(f"building {PACKAGE} {VERSION} for this CPU: {target} (5-10 minutes on 2 cores)")
        cached = [build_wheel(options, wheels)]
    _pip("install", "--force-reinstall", "--no-deps", "--no-cache-dir", str(cached[0]))
    marker_path().write_text(
        json.dumps({"key": key, "libraries": library_identity()}), encoding="utf-8"
    )
    say(f"installed {PACKAGE} {VERSION} built for {target}: {cached[0].name}")
    return True


def build_wheel(options: list[str], into: Path) -> Path:
    """Compile the wheel with `options` (no pip cache), and keep it in `into`."""
    into.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="llama-build-", dir=into.parent) as tmp:
        log = into.parent / f"{into.name}.log"
        env = dict(os.environ, CMAKE_ARGS=" ".join(options))
        env["CMAKE_BUILD_PARALLEL_LEVEL"] = str(os.cpu_count() or 1)
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-cache-dir",
                   "--no-binary", PACKAGE, f"{PACKAGE}=={VERSION}", "--wheel-dir", tmp]
        with log.open("w", encoding="utf-8") as out:
            _run_with_heartbeat(command, env, out)
        built = sorted(Path(tmp).glob("*.whl"))
        if not built:
            raise BuildError(f"pip built no wheel; see {log}")
        for old in into.glob("*.whl"):
            old.unlink()
        final = into / built[0].name
        os.replace(built[0], final)  # same file system: the cache never holds half a wheel
    return final


def _run_with_heartbeat(command: list[str], env: dict[str, str], out: IO[str]) -> None:
    """Run the build, saying every HEARTBEAT seconds that it is still going."""
    started = time.monotonic()
    process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    while process.poll() is None:
        try:
            process.wait(timeout=HEARTBEAT)
        except subprocess.TimeoutExpired:
            print(f"  still compiling llama.cpp ({time.monotonic() - started:.0f} s)", flush=True)
    if process.returncode != 0:
        raise BuildError(f"building {PACKAGE} failed (exit {process.returncode}); see {out.name}")


def _pip(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", "--quiet", *args], check=False)
    if done.returncode != 0:
        raise BuildError(f"pip {args[0]} failed (exit {done.returncode})")


def main(argv: list[str] | None = None) -> int:
    """Entry point: install, rebuild, or show the options."""
    parser = argparse.ArgumentParser(prog="python -m codeloop.models.llama_build")
    parser.add_argument("--force", action="store_true", help="build again, ignoring caches")
    parser.add_argument("--print", action="store_true", help="only show the options chosen")
    parser.add_argument("--quiet", action="store_true", help="say nothing when nothing is to do")
    args = parser.parse_args(argv)
    options = this_machine_options()
    if args.print:
        print(f"{describe(options)}\nCMAKE_ARGS={' '.join(options)}\nkey {build_key(options)}")
        return 0
    try:
        built = ensure_built(force=args.force)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not built and not args.quiet:
        print(f"{PACKAGE} {VERSION} is already built for this CPU ({describe(options)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
