"""Sandbox overhead for a two-test file, against a bare Python start and a naive pytest run.

    .venv/bin/python bench/bench_sandbox.py [--runs 40] [--threads 4]

Prints medians (and quartiles) in seconds for:
  bare python      `python -c pass` in a subprocess: the floor of any process-based sandbox
  naive pytest     `python -m pytest` on the same two tests in a subprocess (v0-style)
  sandbox (on)     run_sandboxed with OS isolation (namespaces, private root, own uid)
  sandbox (off)    run_sandboxed with Limits(isolate=False)
plus the zygote's start-up (paid once per codeloop process) and the throughput with
several threads calling run_sandboxed at once. The tests themselves take about a
millisecond, so a sandbox run's wall time is its overhead.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from codeloop.sandbox import Limits, run_sandboxed
from codeloop.sandbox.forkserver import SERVER

CODE = "def add(a, b):\n    return a + b\n"
TESTS = (
    "from solution import add\n\n"
    "def test_add():\n    assert add(1, 2) == 3\n\n"
    "def test_add_wrong():\n    assert add(2, 2) == 5\n"
)


def timed(action: Callable[[], object], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return times


def show(name: str, times: list[float]) -> float:
    q1, median, q3 = statistics.quantiles(times, n=4) if len(times) > 1 else times * 3
    print(f"{name:<28} median {median:.3f}   q1 {q1:.3f}   q3 {q3:.3f}   (n={len(times)})")
    return median


def sandbox(isolate: bool) -> None:
    report = run_sandboxed(CODE, TESTS, Limits(isolate=isolate))
    assert report.status == "failed" and report.passed == 1, report


def naive_pytest(directory: Path) -> None:
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                    str(directory / "test_solution.py")], cwd=directory,
                   capture_output=True, check=False)


def throughput(threads: int, runs: int) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(lambda _: sandbox(True), range(runs)))
    return runs / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()

    SERVER.stop()
    show("zygote start + first run", timed(lambda: sandbox(True), 1))
    report = run_sandboxed(CODE, TESTS)
    print(f"isolation in force: {report.isolation}\n")
    show("bare python", timed(lambda: subprocess.run([sys.executable, "-c", "pass"]), args.runs))
    with tempfile.TemporaryDirectory() as directory:
        (Path(directory) / "solution.py").write_text(CODE)
        (Path(directory) / "test_solution.py").write_text(TESTS)
        show("naive pytest", timed(lambda: naive_pytest(Path(directory)), max(5, args.runs // 3)))
    on = show("sandbox, isolation on", timed(lambda: sandbox(True), args.runs))
    off = show("sandbox, isolation off", timed(lambda: sandbox(False), args.runs))
    print(f"\nOS isolation costs {1000 * (on - off):+.1f} ms per run (median on - median off)")
    rate = throughput(args.threads, args.runs)
    print(f"throughput with {args.threads} threads: {rate:.1f} runs/s")


if __name__ == "__main__":
    main()
