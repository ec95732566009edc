"""Shared fixtures: isolated settings, tiny source directories and an in-process CLI runner."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from pg_server import Cluster, throwaway_cluster
from tiny_sources import DATA_END, tiny_tables, write_tables

from features.point_in_time.artifacts import read_training_set, write_training_set
from features.point_in_time.spec import TrainingSetSpec
from features.point_in_time.training_set import build_training_set
from features.settings import Settings, use_settings
from features.simulator import SimulationConfig, simulate
from features.sources.loading import Sources, load_sources
from training.config import load_config
from training.model import ChurnRiskModel
from training.pipeline import train_and_evaluate


@pytest.fixture
def tiny_dir(tmp_path: Path) -> Path:
    return write_tables(tmp_path / "sources", tiny_tables())


@pytest.fixture
def make_sources(tmp_path: Path) -> Callable[..., Path]:
    """Write tiny tables after applying `edit` to them; returns the directory."""
    def _make(edit: Callable[[dict[str, pd.DataFrame]], None] | None = None,
              fmt: str = "csv", data_end: str | None = DATA_END) -> Path:
        tables = tiny_tables()
        if edit is not None:
            edit(tables)
        return write_tables(tmp_path / "sources", tables, fmt, data_end)
    return _make


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Every test gets its own workspace; nothing reads the developer's environment."""
    for name in list(__import__("os").environ):
        if name.startswith("CHURNLENS_"):
            monkeypatch.delenv(name)
    settings = Settings(home=tmp_path / "workspace")
    use_settings(settings)
    yield settings
    use_settings(None)


class CliResult:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
            ) -> Callable[..., CliResult]:
    """Run `churnlens ARGS...` in-process through its real entry point."""
    from serving.cli import main

    def _run(*args: str) -> CliResult:
        monkeypatch.setattr("sys.argv", ["churnlens", *map(str, args)])
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)
    return _run


# Enough accounts for honest out-of-time comparisons (about 1,000 churned snapshots in
# training), small enough to simulate and build in well under a minute.
ACCOUNTS = 1200


@pytest.fixture(scope="session")
def simulated_sources(tmp_path_factory: pytest.TempPathFactory) -> Sources:
    """A simulated customer base (1,200 accounts, 2023-2025, seed 21), loaded."""
    root = tmp_path_factory.mktemp("simulated")
    config = SimulationConfig(n_accounts=ACCOUNTS, start=dt.date(2023, 1, 1),
                              end=dt.date(2025, 12, 31), seed=21)
    simulate(config, root / "sources")
    return load_sources(root / "sources")


@pytest.fixture(scope="session")
def simulated_set(simulated_sources: Sources, tmp_path_factory: pytest.TempPathFactory
                  ) -> tuple[pd.DataFrame, dict[str, Any], Path]:
    """(frame, manifest, path) of the monthly training set of `simulated_sources`."""
    spec = TrainingSetSpec()
    frame = build_training_set(simulated_sources, spec)
    path = write_training_set(frame, spec, simulated_sources,
                              workspace=tmp_path_factory.mktemp("sets"))
    frame, manifest = read_training_set(path)
    return frame, manifest, path


@pytest.fixture(scope="session")
def trained_model(simulated_set: tuple[pd.DataFrame, dict[str, Any], Path]) -> ChurnRiskModel:
    """The cutoff model of the simulated training set (no backtest, for speed)."""
    frame, _, _ = simulated_set
    config = load_config()
    config = config.model_copy(update={
        "split": config.split.model_copy(update={"backtest_folds": 0})})
    return train_and_evaluate(frame, config).model


@pytest.fixture(scope="session")
def dask_runner() -> Iterator[Any]:
    """A runner on a real LocalCluster of two worker processes, shared by the session."""
    from features.distributed.cluster import ClusterChoice, bucket_runner

    with bucket_runner(ClusterChoice("local", workers=2)) as runner:
        yield runner


@pytest.fixture(scope="session")
def partitioned(simulated_sources: Sources, tmp_path_factory: pytest.TempPathFactory
                ) -> Callable[[int], Path]:
    """The simulated base partitioned into B account buckets, once per B."""
    from features.sources.partitioning import partition

    made: dict[int, Path] = {}

    def get(buckets: int) -> Path:
        if buckets not in made:
            out = tmp_path_factory.mktemp(f"parts{buckets}") / "parts"
            partition(simulated_sources.location, out, buckets)
            made[buckets] = out
        return made[buckets]
    return get


@pytest.fixture
def postgres_cluster() -> Iterator[tuple[Cluster, str]]:
    """A PostgreSQL server of the test's own, which it may stop and resume, and its URL."""
    cluster = throwaway_cluster()
    try:
        yield cluster, cluster.start()
    finally:
        try:
            cluster.stop()
        finally:
            shutil.rmtree(cluster.base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The URL of a fresh PostgreSQL database on a throwaway local server."""
    cluster = throwaway_cluster()
    try:
        yield cluster.start()
    finally:
        try:
            cluster.stop()
        finally:
            shutil.rmtree(cluster.base, ignore_errors=True)
