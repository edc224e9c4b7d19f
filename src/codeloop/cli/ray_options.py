"""The `--ray` options that `batch` and `eval` share, and the words that repeat them to resume."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from codeloop.batch.ray_cluster import (
    RaySettings,
    check_portable,
    connected,
    embedded,
    require_ray,
    resolve_address,
)
from codeloop.context import Context
from codeloop.runs.store import DB_ENV

if TYPE_CHECKING:
    from codeloop.batch.ray_pool import WorkerPool

MAX_WORKERS, MAX_THREADS = 256, 64


def add_ray_options(parser: argparse.ArgumentParser) -> None:
    """`--ray [ADDRESS]`, `--workers N`, `--threads-per-worker T`."""
    group = parser.add_argument_group("on a Ray cluster (pip install 'codeloop[ray]')")
    group.add_argument(
        "--ray", nargs="?", const="", metavar="ADDRESS",
        help="run on Ray workers: the cluster at ADDRESS, else $RAY_ADDRESS, else a local "
        "instance; put it after the positional arguments")
    group.add_argument("--workers", type=int, metavar="N",
                       help="Ray workers (default: one per T CPUs of the cluster)")
    group.add_argument("--threads-per-worker", type=int, metavar="T",
                       help="llama.cpp threads of each worker, which reserves T/2 CPUs (default 1)")


def ray_settings(args: argparse.Namespace) -> RaySettings | None:
    """The Ray settings the options ask for; None without --ray (a ValueError if they clash)."""
    if args.ray is None:
        if args.workers is not None or args.threads_per_worker is not None:
            raise ValueError("--workers and --threads-per-worker need --ray")
        return None
    if args.workers is not None and not 1 <= args.workers <= MAX_WORKERS:
        raise ValueError(f"--workers must be 1-{MAX_WORKERS}, got {args.workers}")
    threads = 1 if args.threads_per_worker is None else args.threads_per_worker
    if not 1 <= threads <= MAX_THREADS:
        raise ValueError(f"--threads-per-worker must be 1-{MAX_THREADS}, got {threads}")
    return RaySettings(resolve_address(args.ray), args.workers, threads, args.concurrency)


def ray_words(args: argparse.Namespace) -> list[str]:
    """The --ray options as given, for a command that repeats this one."""
    if args.ray is None:
        return []
    words = ["--ray", *([args.ray] if args.ray else [])]
    if args.workers is not None:
        words += ["--workers", str(args.workers)]
    if args.threads_per_worker is not None:
        words += ["--threads-per-worker", str(args.threads_per_worker)]
    return words


@contextmanager
def ray_workers(
    settings: RaySettings, base: Context, out: Path, err: Console
) -> Iterator[WorkerPool]:
    """Join the cluster and start the workers (on the driver's run database); leaving ends them."""
    check_portable(base)
    require_ray()
    from codeloop.batch.ray_pool import WorkerPool
    from codeloop.batch.ray_workers import start_workers

    with connected(settings) as cluster:
        count = settings.worker_count(cluster.cpus)
        cpus = settings.worker_cpus(embedded(base))
        where = settings.address or "a local Ray instance"
        err.print(f"ray: {count} worker(s) of {cpus:g} CPU each on {where} ({cluster.nodes} "
                  f"node(s), {cluster.cpus:g} CPUs)", highlight=False, markup=False)
        if count * cpus > cluster.cpus:
            err.print(f"ray: the workers reserve {count * cpus:g} CPUs, more than the cluster "
                      "has now: some start only when nodes join", highlight=False, markup=False)
        db_url = os.environ.get(DB_ENV, "").strip() or None
        yield WorkerPool(start_workers(settings, base, count, db_url, out), settings.slots)
