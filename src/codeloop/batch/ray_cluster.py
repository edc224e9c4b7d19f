"""Which Ray cluster `--ray` joins, how much of it a worker takes, where run state may live.

`--ray` alone joins the cluster in `RAY_ADDRESS`, else starts a local Ray instance that
lives and ends with the command; `--ray ADDRESS` joins the cluster there (`auto`: the one
`ray start` began on this machine; `local`: a new local instance).

Workers checkpoint their runs themselves, so every node must reach the run database.
SQLite (a file in the results folder) is allowed only on the local instance, whose workers
all run on this machine. A cluster joined by address may have nodes on other machines, or
gain them while the batch runs (an autoscaler), so it needs Postgres in `CODELOOP_DB`.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from codeloop.context import Context
from codeloop.models import spec_for
from codeloop.runs.store import DB_ENV, StoreError

RAY_EXTRA = "pip install 'codeloop[ray]'"
# Half a CPU per llama.cpp thread: on 2 cores two workers asking num_cpus=1 each took both
# CPUs and any plain Ray task then waited forever (measured with ray 2.60.0). A worker's
# threads are busy only while its model generates; its tests and checkpoints use little.
CPU_PER_THREAD = 0.5
# A worker whose model is elsewhere (TGI, an API) mostly waits on the network.
REMOTE_MODEL_CPUS = 0.1
CONNECT_SECONDS = 10.0


@dataclass(frozen=True)
class RaySettings:
    """How a command runs on Ray: where, how many workers, how big each one is."""

    address: str | None  # None: a local instance started for this command
    workers: int | None  # None: as many as the cluster has CPUs for
    threads: int = 1  # llama.cpp threads per worker (CODELOOP_THREADS)
    slots: int = 1  # runs a worker has in hand at once

    @property
    def local(self) -> bool:
        """Whether every worker runs on this machine (a local instance of our own)."""
        return self.address is None

    def worker_cpus(self, embedded: bool) -> float:
        """The CPUs one worker reserves: its threads' share, or a little for a remote model."""
        return CPU_PER_THREAD * self.threads if embedded else REMOTE_MODEL_CPUS

    def worker_count(self, cluster_cpus: float) -> int:
        """The number of workers: as asked, else one per `threads` CPUs of the cluster."""
        return self.workers or max(1, int(cluster_cpus // self.threads))


def resolve_address(option: str) -> str | None:
    """The cluster `--ray [ADDRESS]` means: ADDRESS, else RAY_ADDRESS, else None (local)."""
    address = option.strip() or os.environ.get("RAY_ADDRESS", "").strip()
    return None if address in ("", "local") else address


def check_run_database(settings: RaySettings) -> None:
    """Refuse SQLite on a cluster joined by address: its workers may not see this machine's file."""
    if settings.local or os.environ.get(DB_ENV, "").strip():
        return
    raise StoreError(
        f"--ray {settings.address} needs the runs in Postgres: set {DB_ENV}=postgresql://... "
        "(a cluster joined by address may have nodes on other machines, which cannot reach "
        "the SQLite file in the results folder; only a local instance, --ray without an "
        "address, may use it)"
    )


def model_specs(context: Context) -> list[str]:
    """The model specs a run loads: the generator's, and the reviewer's if it has its own."""
    return list(dict.fromkeys(spec_for(context, role) for role in ("generator", "reviewer")))


def embedded(context: Context) -> bool:
    """Whether the run's models include the embedded one (a heavy, CPU-bound worker)."""
    return any(spec.strip().startswith("local") for spec in model_specs(context))


def check_portable(context: Context) -> None:
    """Refuse a model other processes cannot load (`registered:` lives in this process only)."""
    for spec in model_specs(context):
        if spec.strip().startswith("registered:"):
            raise ValueError(f"--ray: the model {spec} exists only in this process; give the "
                             "workers a spec they can load (local, tgi:URL, PROVIDER:MODEL)")


@dataclass(frozen=True)
class Cluster:
    """The cluster joined: its CPUs and nodes when the command started."""

    cpus: float
    nodes: int


@contextmanager
def connected(settings: RaySettings) -> Iterator[Cluster]:
    """Join (or start) the cluster; leave it afterwards, which ends the workers started here."""
    require_ray()
    import ray

    if settings.local:
        # A local instance of our own: no usage statistics sent from it.
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        ray.init(address="local", include_dashboard=False, log_to_driver=False,
                 logging_level=logging.WARNING)
    else:
        assert settings.address is not None
        reachable(settings.address)
        try:
            ray.init(address=settings.address, log_to_driver=False,
                     logging_level=logging.WARNING)
        except ConnectionError as exc:
            if _refused_token(exc):
                raise ConnectionError(
                    f"the Ray cluster at {settings.address} wants its token: set "
                    "RAY_AUTH_MODE=token and RAY_AUTH_TOKEN (or copy the head's "
                    "~/.ray/auth_token here)") from None
            raise
    try:
        alive = [n for n in ray.nodes() if n.get("Alive")]  # type: ignore[no-untyped-call]
        cpus = ray.cluster_resources().get("CPU", 0.0)  # type: ignore[no-untyped-call]
        yield Cluster(cpus=float(cpus), nodes=len(alive))
    finally:
        ray.shutdown()


def _refused_token(exc: BaseException | None) -> bool:
    """Whether the cluster refused the driver's token (Ray nests that error as text)."""
    while exc is not None:
        if "InvalidAuthToken" in str(exc) or type(exc).__name__ == "AuthenticationError":
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def require_ray() -> None:
    """Say how to install Ray when it is missing (it is an optional extra)."""
    try:
        import ray  # noqa: F401
    except ImportError:
        raise RuntimeError(f"--ray needs Ray: {RAY_EXTRA}") from None


def reachable(address: str) -> None:
    """Fail at once, in one line, if nothing answers at ADDRESS (Ray retries for minutes)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if address == "auto" or not host or not port.isdigit():
        return  # Ray finds the cluster or says what is wrong with the address
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_SECONDS).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConnectionError(f"cannot reach the Ray cluster at {address}: {reason}") from None


__all__ = [
    "Cluster", "RaySettings", "check_portable", "check_run_database", "connected", "embedded",
    "model_specs", "require_ray", "resolve_address",
]
