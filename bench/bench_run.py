"""Wall time, iterations and peak resident memory of `codeloop run` on the embedded model.

    .venv/bin/python bench/bench_run.py

Each task runs as its own `codeloop run` process; peak RSS comes from wait4's rusage
(the codeloop process itself; the sandbox's pytest children are measured separately by
the kernel and are far smaller).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

TASKS = {
    "fizzbuzz": "Write a function fizzbuzz(n) that returns a list of strings for 1..n: 'Fizz' for "
    "multiples of 3, 'Buzz' for multiples of 5, 'FizzBuzz' for multiples of both, otherwise "
    "the number itself.",
    "palindrome": "Write a function is_palindrome(s: str) -> bool that ignores case and "
    "non-alphanumeric characters.",
    "run-length": "Write a function rle(s: str) -> str that run-length encodes a string, e.g. "
    "rle('aaabcc') == '3a1b2c', and rle('') == ''.",
}


def run(task: str, out: str) -> tuple[dict, float, int]:
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "codeloop.cli", "run", task, "--json", "--out", out],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    stdout = proc.stdout.read()
    _, _, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    return json.loads(stdout), seconds, usage.ru_maxrss * 1024


def main() -> None:
    print(f"{'task':<12} {'status':<13} {'iterations':>10} {'wall s':>8} {'peak RSS MB':>12}")
    with tempfile.TemporaryDirectory() as out:
        for name, task in TASKS.items():
            report, seconds, rss = run(task, out)
            print(f"{name:<12} {report['status']:<13} {report['iterations']:>10} "
                  f"{seconds:8.1f} {rss / 1e6:12.0f}")


if __name__ == "__main__":
    main()
