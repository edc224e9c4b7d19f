"""A full `codeloop run`: the embedded model vs the same GGUF behind an OpenAI-compatible server.

    .venv/bin/python bench/bench_openai.py [--tasks fizzbuzz,palindrome] [--max-iterations 1]
                                           [--repeats 2]

The server is llama-cpp-python's own (`python -m llama_cpp.server`, started here on
127.0.0.1 with the same model file and thread count); codeloop reaches it through the
`openai:` route (LangChain's ChatOpenAI). Each run is its own `codeloop run` process, one
at a time, so the two never share the CPU, and the two routes alternate run by run, so a
change in the machine's load falls on both. The embedded runs pay for loading the model
in each process; the server loads it once, before the first run (its start is printed
apart). The load average is printed before and after: on a shared machine it decides
more than the route does.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench_run import TASKS  # noqa: E402  (the same three tasks as bench_run.py)
from tests.openai_server import llama_server  # noqa: E402

from codeloop.models.model_file import resolve_model_file  # noqa: E402


def run(task: str, model: str, out: str, iterations: int) -> tuple[dict, float]:
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "codeloop.cli", "run", task, "--json", "--out", out,
         "--model", model, "--max-iterations", str(iterations)],
        capture_output=True, text=True, env=env, check=False,
    )
    seconds = time.perf_counter() - started
    if not done.stdout.strip():
        raise RuntimeError(f"codeloop run failed: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout), seconds


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", default="fizzbuzz,palindrome", help="comma-separated names")
    parser.add_argument("--max-iterations", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    print(f"load average before: {load()}", flush=True)
    rows: list[tuple[str, str, dict, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        with llama_server(resolve_model_file(), Path(tmp) / "server.log") as server:
            print(f"llama_cpp.server up in {time.perf_counter() - started:.1f} s", flush=True)
            routes = (("embedded", "local"), ("openai server", server.spec()))
            for repeat in range(args.repeats):
                for name in args.tasks.split(","):
                    for label, spec in routes if repeat % 2 == 0 else routes[::-1]:
                        report, seconds = run(TASKS[name], spec, str(Path(tmp) / label),
                                              args.max_iterations)
                        rows.append((name, label, report, seconds))
                        print(f"  {name:<11} {label:<14} {report['status']:<13} "
                              f"{report['iterations']} round(s) {seconds:7.1f} s", flush=True)
    print(f"load average after: {load()}")
    print()
    print("| model | runs | approved | rounds | median seconds | median seconds per round |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for label, _ in routes:
        mine = [(r, s) for _, lab, r, s in rows if lab == label]
        rounds = sum(r["iterations"] for r, _ in mine)
        approved = sum(r["status"] == "approved" for r, _ in mine)
        median = statistics.median(s for _, s in mine)
        per_round = statistics.median(s / max(1, r["iterations"]) for r, s in mine)
        print(f"| {label} | {len(mine)} | {approved} | {rounds} | {median:.1f} | {per_round:.1f} |")


if __name__ == "__main__":
    main()
