"""Where per-bucket work runs: in this process, or as dask.distributed tasks.

`--cluster none` (the default) runs the buckets in turn here and never imports dask, so
the core install needs no dask at all. `local` or `local:N` starts a `LocalCluster` of
N worker processes (one thread each; N defaults to the machine's cores) for the length
of the command; `tcp://HOST:8786` connects to a running scheduler. Either way the same
module-level functions run, each on one bucket, and their results come back in bucket
order, so every path gives the same rows. Workers of a real cluster need churnlens
installed and read access to the partitioned sources at the same path.

`CHURNLENS_DASK_SCHEDULER` gives the default for `--cluster`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from features.errors import ChurnlensError, ConfigError
from features.settings import get_settings

log = logging.getLogger(__name__)

ENV = "CHURNLENS_DASK_SCHEDULER"
CONNECT_SECONDS = 30

T = TypeVar("T")
Progress = Callable[[int, int], None]  # (items done, items in all)


@dataclass(frozen=True)
class ClusterChoice:
    """A parsed --cluster value."""

    kind: str  # none | local | scheduler
    workers: int | None = None  # local: worker processes (None: one per core)
    address: str | None = None  # scheduler: tcp://HOST:PORT

    def __str__(self) -> str:
        if self.kind == "local":
            return "local" if self.workers is None else f"local:{self.workers}"
        return self.address or "none"


def parse_cluster(value: str | None) -> ClusterChoice:
    """The cluster `value` names, or $CHURNLENS_DASK_SCHEDULER's when it is None."""
    where = "--cluster"
    if value is None:
        value, where = get_settings().dask_scheduler, ENV
    text = value.strip()
    if text in ("", "none"):
        return ClusterChoice("none")
    if text == "local" or text.startswith("local:"):
        count = text.partition(":")[2]
        if not count:
            return ClusterChoice("local")
        if not count.isdigit() or not 1 <= int(count) <= 256:
            raise ConfigError(f"{where} {value!r}: local:N needs N from 1 to 256 worker "
                              f"processes, e.g. local:2.")
        return ClusterChoice("local", workers=int(count))
    if text.startswith("tcp://") and len(text) > len("tcp://"):
        return ClusterChoice("scheduler", address=text)
    raise ConfigError(f"{where} {value!r} is not a cluster: use none, local, local:N or "
                      f"tcp://HOST:8786 (a running Dask scheduler).")


class Runner(Protocol):
    """Runs one function over items: `each` yields (item's index, result) as each is
    done, so a caller can write and drop results one at a time; `map` returns them all
    in the items' order."""

    def each(self, fn: Callable[..., T], items: Sequence[Any],
             progress: Progress | None = None, **shared: Any) -> Iterator[tuple[int, T]]: ...

    def map(self, fn: Callable[..., T], items: Sequence[Any], progress: Progress | None = None,
            **shared: Any) -> list[T]: ...


def in_order(done: Iterator[tuple[int, T]], count: int) -> list[T]:
    """The results of `each` in their items' order."""
    results: list[Any] = [None] * count
    for index, result in done:
        results[index] = result
    return results


class InProcess:
    """Each item in turn, here: peak memory is one item's."""

    def each(self, fn: Callable[..., T], items: Sequence[Any],
             progress: Progress | None = None, **shared: Any) -> Iterator[tuple[int, T]]:
        for index, item in enumerate(items):
            yield index, fn(item, **shared)
            if progress is not None:
                progress(index + 1, len(items))

    def map(self, fn: Callable[..., T], items: Sequence[Any], progress: Progress | None = None,
            **shared: Any) -> list[T]:
        return in_order(self.each(fn, items, progress, **shared), len(items))


class OnDask:
    """Each item as one task on a dask.distributed client; `shared` arguments are sent
    to every worker once, not with every task."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def each(self, fn: Callable[..., T], items: Sequence[Any],
             progress: Progress | None = None, **shared: Any) -> Iterator[tuple[int, T]]:
        from distributed import as_completed

        if not items:
            return
        # each value whole (scatter splits a bare list or dict into futures of its own)
        sent = {name: self.client.scatter([value], broadcast=True, hash=False)[0]
                for name, value in shared.items()}
        futures = self.client.map(fn, list(items), pure=False, **sent)
        index = {future.key: i for i, future in enumerate(futures)}
        try:
            for done, future in enumerate(as_completed(futures), start=1):
                # no local name holds the result once it is yielded: the caller's
                # dropping it frees it while the next one is awaited
                yield index[future.key], _taken(future)
                if progress is not None:
                    progress(done, len(futures))
        finally:
            for future in futures:
                future.release()

    def map(self, fn: Callable[..., T], items: Sequence[Any], progress: Progress | None = None,
            **shared: Any) -> list[T]:
        return in_order(self.each(fn, items, progress, **shared), len(items))


def _taken(future: Any) -> Any:
    """The future's result, here; the worker lets go of it."""
    try:
        result = future.result()
    except ModuleNotFoundError as exc:
        raise ChurnlensError(f"A Dask worker cannot import {exc.name}: install churnlens "
                             f"(with the same version) on every worker.") from exc
    future.release()
    return result


@contextmanager
def bucket_runner(choice: ClusterChoice) -> Iterator[Runner]:
    """A runner for `choice`, with its cluster or connection open for the block."""
    if choice.kind == "none":
        yield InProcess()
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError(f"--cluster {choice} needs dask.distributed; install churnlens "
                          f"with its dask extra (pip install '.[dask]' in a checkout), or use "
                          f"--cluster none.") from None
    if not log.isEnabledFor(logging.DEBUG):  # dask's own INFO lines say nothing to a user
        logging.getLogger("distributed").setLevel(logging.WARNING)
    began = time.perf_counter()
    if choice.kind == "local":
        workers = choice.workers or os.cpu_count() or 1
        # Everything on 127.0.0.1; the scheduler's status page on a free port.
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                          host="127.0.0.1", dashboard_address="127.0.0.1:0",
                          silence_logs=logging.WARNING) as cluster, Client(cluster) as client:
            log.info("started a local Dask cluster of %d worker processes in %.1f s "
                     "(status: %s)", workers, time.perf_counter() - began,
                     cluster.dashboard_link)
            yield OnDask(client)
        return
    try:  # results come straight from the workers, not through the scheduler
        client = Client(choice.address, timeout=CONNECT_SECONDS, direct_to_workers=True)
    except (OSError, TimeoutError) as exc:
        raise ConfigError(f"Cannot reach the Dask scheduler at {choice.address} ({exc}). "
                          f"Start one (`dask scheduler`, then `dask worker "
                          f"{choice.address}` on each machine) or fix the address.") from None
    with client:
        try:
            client.wait_for_workers(1, timeout=CONNECT_SECONDS)
        except TimeoutError:
            raise ConfigError(f"The Dask scheduler at {choice.address} has no workers after "
                              f"{CONNECT_SECONDS} s. Start some with `dask worker "
                              f"{choice.address}`.") from None
        log.info("connected to the Dask scheduler at %s (%d workers)", choice.address,
                 len(client.scheduler_info().get("workers", {})))
        yield OnDask(client)
