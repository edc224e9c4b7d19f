"""Raw tokens/s of llama.cpp builds on this machine, same prompt, same run: what portability costs.

    .venv/bin/python bench/bench_build.py [--reps 3] [--tokens 128]

Builds compared (each compiled once into codeloop's wheel cache, then installed into a
temporary folder and run in its own process, alternating, so machine noise hits all alike):

- portable: what `codeloop.models.llama_build` picks for this CPU (what `make` installs);
- avx2: an AVX2-only build (x86-64), skipped where it is the same as portable;
- native: pip's default `-DGGML_NATIVE=ON` (`-march=native`), which on a CPU with Intel
  AMX dies of SIGILL: reported as such.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from codeloop.models.llama_build import (
    build_key,
    build_wheel,
    cmake_options,
    describe,
    this_machine_options,
)
from codeloop.models.model_file import cache_dir, resolve_model_file

AVX2_FLAGS = {"sse4_2", "avx", "avx2", "fma", "f16c", "bmi2"}
# One decode in a fresh process: load, a chat prompt, greedy tokens; prints tokens and seconds.
CHILD = """
import json, sys, time
from llama_cpp import Llama
llama = Llama(model_path=sys.argv[1], n_ctx=2048, n_threads=int(sys.argv[3]), verbose=False)
messages = [{"role": "system", "content": "You are an expert Python developer."},
            {"role": "user", "content": "Write a Python module with five small, documented string utility functions."}]
llama.create_chat_completion(messages=messages, max_tokens=8, temperature=0.0)  # warm-up
rates = []
for _ in range(int(sys.argv[4])):
    llama.reset()
    started = time.perf_counter()
    reply = llama.create_chat_completion(messages=messages, max_tokens=int(sys.argv[2]), temperature=0.0, seed=0)
    rates.append(reply["usage"]["completion_tokens"] / (time.perf_counter() - started))
print(json.dumps(rates))
"""


def builds() -> dict[str, list[str]]:
    portable = this_machine_options()
    chosen = {"portable": portable}
    avx2 = cmake_options("x86_64", AVX2_FLAGS)
    if os.uname().machine == "x86_64" and avx2 != portable:
        chosen["avx2"] = avx2
    chosen["native"] = ["-DGGML_NATIVE=ON"]
    return chosen


def wheel_for(options: list[str]) -> Path:
    folder = cache_dir() / "llama-wheels" / build_key(options)
    found = sorted(folder.glob("*.whl"))
    if found:
        return found[0]
    print(f"building {describe(options) if options[0].endswith('OFF') else 'native'} (several minutes)...", flush=True)
    return build_wheel(options, folder)


def install(wheel: Path, into: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-cache-dir",
                    "--target", str(into), str(wheel)], check=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()
    model = str(resolve_model_file())
    with tempfile.TemporaryDirectory() as tmp:
        places = {}
        for name, options in builds().items():
            places[name] = Path(tmp) / name
            install(wheel_for(options), places[name])
        rates: dict[str, list[float]] = {name: [] for name in places}
        failures: dict[str, str] = {}
        for _ in range(args.reps):
            for name, place in places.items():
                if name in failures:
                    continue
                env = {**os.environ, "PYTHONPATH": str(place)}
                done = subprocess.run([sys.executable, "-c", CHILD, model, str(args.tokens), str(args.threads), "1"],
                                      capture_output=True, text=True, env=env)
                if done.returncode != 0:
                    failures[name] = f"exit {done.returncode}" + (" (killed by a signal)" if done.returncode < 0 else "")
                    continue
                rates[name] += json.loads(done.stdout)
    portable = statistics.median(rates["portable"])
    print(f"{'build':<9} {'median tok/s':>12} {'vs portable':>12}   (reps={args.reps}, max_tokens={args.tokens}, threads={args.threads})")
    for name, options in builds().items():
        label = describe(options) if name != "native" else "-march=native"
        if name in failures:
            print(f"{name:<9} {'failed: ' + failures[name]:>25}   {label}")
            continue
        median = statistics.median(rates[name])
        print(f"{name:<9} {median:12.1f} {median / portable:12.1%}   {label}")


if __name__ == "__main__":
    main()
