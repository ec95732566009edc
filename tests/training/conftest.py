"""A small simulated training set, built once per session for the training tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from features.artifacts import read_training_set, write_training_set
from features.loading import load_sources
from features.simulator import SimulationConfig, simulate
from features.spec import TrainingSetSpec
from features.training_set import build_training_set

# Enough accounts for honest out-of-time comparisons (about 1,000 churned snapshots in
# training), small enough to build in well under a minute.
ACCOUNTS = 1200


@pytest.fixture(scope="session")
def simulated_set(tmp_path_factory: pytest.TempPathFactory
                  ) -> tuple[pd.DataFrame, dict[str, Any], Path]:
    """(frame, manifest, path) of the monthly training set of a simulated base."""
    root = tmp_path_factory.mktemp("simulated")
    config = SimulationConfig(n_accounts=ACCOUNTS, start=dt.date(2023, 1, 1),
                              end=dt.date(2025, 12, 31), seed=21)
    simulate(config, root / "sources")
    sources = load_sources(root / "sources")
    spec = TrainingSetSpec()
    path = write_training_set(build_training_set(sources, spec), spec, sources, workspace=root)
    frame, manifest = read_training_set(path)
    return frame, manifest, path
