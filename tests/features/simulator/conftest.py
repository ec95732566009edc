"""Shared simulated datasets for the simulator tests (built once per session, small)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from features.simulator import SimulationConfig, SimulationSummary, simulate

SMALL = SimulationConfig(
    n_accounts=300, start=dt.date(2023, 1, 1), end=dt.date(2025, 6, 30), seed=11, chunk_size=64
)
TABLES = ("accounts", "subscriptions", "usage_events", "tickets", "surveys", "csm_notes")


@pytest.fixture(scope="session")
def small_config() -> SimulationConfig:
    """300 accounts over 2.5 years (2023-01-01 .. 2025-06-30), seed 11."""
    return SMALL


@pytest.fixture(scope="session")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> SimulationSummary:
    return simulate(SMALL, tmp_path_factory.mktemp("small"))


@pytest.fixture(scope="session")
def small_tables(small_run: SimulationSummary) -> dict[str, pd.DataFrame]:
    out: Path = small_run.out
    frames = {name: pd.read_parquet(out / f"{name}.parquet") for name in TABLES}
    frames["truth_terms"] = pd.read_parquet(out / "_truth" / "terms.parquet")
    frames["truth_shocks"] = pd.read_parquet(out / "_truth" / "shocks.parquet")
    frames["truth_risk_as_of"] = pd.read_parquet(out / "_truth" / "risk_as_of.parquet")
    return frames
