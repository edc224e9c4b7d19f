"""Throughput of batches on Ray: threads in one process vs Ray workers on a two-node cluster.

    python bench/bench_ray.py                  # everything (the embedded part takes minutes)
    python bench/bench_ray.py --no-embedded    # the fake model only

It starts a real cluster on this machine (a head and a second node, 1 CPU each, as the
tests do) and keeps the runs in Postgres (CODELOOP_TEST_PG, else the local test server
`.ci/start-postgres` makes). Figures:

- fake model (`scripted:`, 0.2 s per call, like a remote server), 20 tasks: today's
  threads at concurrency 4, then Ray with 1, 2 and 4 workers;
- embedded model, the same 8 tasks: one process whose llama.cpp has 2 threads, then 2 Ray
  workers with 1 thread each (one per node).

Timing starts once the model is loaded (threads) or every worker answers (Ray): the
figures are the batch's throughput; worker start-up is printed apart. Ray's overhead
per run is the round trip the driver sees minus the time the worker spent on the run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ray_cluster.py

from tests.ray_cluster import ray_cluster, ray_env

# Ray reads its auth settings once, when it is imported: the cluster's token goes first.
os.environ.update({k: v for k, v in ray_env().items() if k.startswith("RAY_")})

import ray
from bench_batch import SMALL_TASKS, fake_model, run_once

from codeloop.batch.outcome import BatchRun
from codeloop.batch.ray_cluster import RaySettings, connected
from codeloop.batch.ray_pool import WorkerPool
from codeloop.batch.ray_runner import RayBatch
from codeloop.batch.ray_workers import start_workers
from codeloop.batch.runner import Batch
from codeloop.batch.tasks import BatchTask
from codeloop.context import Context
from codeloop.models import chat_model
from codeloop.runs.store import context_of_run, open_store

PG = "postgresql://codeloop_test:codeloop_test@127.0.0.1:5432/codeloop_test"


def on_ray(tasks: list[BatchTask], base: Context, settings: RaySettings,
           folder: Path) -> tuple[float, float, BatchRun]:
    """One batch on Ray workers: (seconds to start them, seconds for the batch, the run)."""
    out = folder / f"ray-{uuid.uuid4().hex[:10]}"  # fresh run ids in the shared database
    os.environ["CODELOOP_DB"] = os.environ.get("CODELOOP_TEST_PG") or PG
    try:
        return _on_ray(tasks, base, settings, out)
    finally:
        del os.environ["CODELOOP_DB"]  # the thread batches keep SQLite, as by default


def _on_ray(tasks: list[BatchTask], base: Context, settings: RaySettings,
            out: Path) -> tuple[float, float, BatchRun]:
    with open_store(out) as store, connected(settings) as cluster:
        assert settings.workers is not None and cluster.nodes == 2
        batch = Batch(store, tasks, out, base, lambda _, record: context_of_run(record))
        plan = batch.plan()
        started = time.perf_counter()
        pool = WorkerPool(start_workers(settings, base, settings.workers,
                                        os.environ["CODELOOP_DB"], out), settings.slots)
        ray.get([w.ping.remote() for w in pool.workers])
        startup = time.perf_counter() - started
        ray_batch = RayBatch(batch, pool, settings)
        started = time.perf_counter()
        run = ray_batch.run(plan)
        seconds = time.perf_counter() - started
    if any(o.status in ("error", "pending") for o in run.outcomes):
        raise SystemExit(f"the batch did not finish: {[o.error for o in run.outcomes]}")
    return startup, seconds, run


def report(label: str, tasks: int, seconds: float, run: BatchRun, extra: str = "") -> None:
    approved = sum(o.status == "approved" for o in run.outcomes)
    print(f"{label:<40} {seconds:7.2f} s {tasks / seconds * 60:7.1f} tasks/min "
          f"({approved}/{tasks} approved; load {os.getloadavg()[0]:.1f}){extra}", flush=True)


def fake(address: str, folder: Path, count: int, delay: float) -> None:
    tasks = [BatchTask(f"t{n:02d}", f"Task T{n:02d}: write add(a, b).", 1, n)
             for n in range(count)]
    base = Context(model=fake_model(folder, delay), max_iterations=1)
    seconds, run = run_once(tasks, base, 4)
    report(f"fake {delay:.2f} s/call, threads x4", count, seconds, run)
    one = 0.0
    for workers in (1, 2, 4):
        startup, seconds, run = on_ray(tasks, base, RaySettings(address, workers), folder)
        one = one or seconds
        overhead = run.ray["overhead_ms_per_run"] if run.ray else None
        report(f"fake {delay:.2f} s/call, Ray {workers} worker(s)", count, seconds, run,
               f"; x{one / seconds:.2f} of 1 worker; overhead {overhead} ms/run; "
               f"start-up {startup:.1f} s")


def embedded(address: str, folder: Path, count: int) -> None:
    tasks = [BatchTask(f"e{n:02d}", SMALL_TASKS[n], 1, n) for n in range(count)]
    base = Context(model="local", max_iterations=1, max_new_tokens=256, model_timeout=3600)
    os.environ["CODELOOP_THREADS"] = "2"  # read when this process loads the model
    chat_model(base)
    seconds, run = run_once(tasks, base, 1)
    report("embedded, 1 process, 2 llama threads", count, seconds, run)
    startup, ray_seconds, run = on_ray(tasks, base, RaySettings(address, 2, threads=1), folder)
    report("embedded, Ray 2 workers x 1 thread", count, ray_seconds, run,
           f"; x{seconds / ray_seconds:.2f} of 1 process; start-up {startup:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--embedded-tasks", type=int, default=8)
    parser.add_argument("--no-embedded", action="store_true")
    parser.add_argument("--no-fake", action="store_true")
    args = parser.parse_args()
    os.environ.pop("CODELOOP_DB", None)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as temp:
        folder = Path(temp)
        (folder / "cluster").mkdir()
        with ray_cluster(folder / "cluster", cpus=1) as cluster:
            if not args.no_fake:
                fake(cluster.address, folder, args.tasks, args.delay)
            if not args.no_embedded:
                embedded(cluster.address, folder, args.embedded_tasks)


if __name__ == "__main__":
    main()
