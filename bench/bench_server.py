"""Does a long run stall the server? /ok latency idle versus during a real run.

    .venv/bin/python bench/bench_server.py

Starts `langgraph dev` (as the tests do: a temporary directory, a free port), measures
/ok over 20 requests while idle, then again while a fizzbuzz run on the embedded model
is in progress, and prints both with the run's own wall time. The model's first load
happens in a warm-up /health call, outside both measurements.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from langgraph_sdk import get_sync_client

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.langgraph_server import langgraph_dev

TASK = (
    "Write a function fizzbuzz(n) that returns a list of strings for 1..n: 'Fizz' for "
    "multiples of 3, 'Buzz' for multiples of 5, 'FizzBuzz' for multiples of both, "
    "otherwise the number itself."
)
SAMPLES = 20


def ok_latencies(url: str, count: int, pause: float = 0.25) -> list[float]:
    seconds = []
    with httpx.Client(timeout=60) as client:
        for _ in range(count):
            started = time.perf_counter()
            client.get(f"{url}/ok").raise_for_status()
            seconds.append(time.perf_counter() - started)
            time.sleep(pause)
    return seconds


def line(name: str, seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[int(0.95 * (len(ms) - 1))]
    return f"{name:<18} {len(ms):>5} {statistics.median(ms):>9.1f} {p95:>9.1f} {ms[-1]:>9.1f}"


def main() -> None:
    with tempfile.TemporaryDirectory() as workdir, langgraph_dev(Path(workdir)) as server:
        httpx.get(f"{server.url}/health", timeout=600).raise_for_status()  # loads the model
        idle = ok_latencies(server.url, SAMPLES)
        client = get_sync_client(url=server.url)
        thread = client.threads.create()["thread_id"]
        started = time.perf_counter()
        run = client.runs.create(
            thread, "codeloop", input={"task": TASK}, context={"max_iterations": 1}
        )
        busy: list[float] = []
        sampler = threading.Thread(target=lambda: busy.extend(ok_latencies(server.url, SAMPLES)))
        sampler.start()
        result = client.runs.join(thread, run["run_id"])
        run_seconds = time.perf_counter() - started
        sampler.join()
    print(f"{'/ok latency':<18} {'n':>5} {'median ms':>9} {'p95 ms':>9} {'max ms':>9}")
    print(line("idle", idle))
    print(line("during a run", busy))
    print(f"run: status {result['status']}, {run_seconds:.1f} s wall")


if __name__ == "__main__":
    main()
