"""Score-store fixtures: each store test runs on SQLite and on a real, throwaway PostgreSQL
(`pg_server`, started by the `postgres_url` fixture of tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from features.sources.database import engine_url
from serving.store.schema import metadata
from serving.store.score_store import ScoreStore
from training.config import load_config
from training.run import RunOutcome, run_training


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A score-store URL on each backend (the SQLite file's directory does not exist yet)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store' / 'scores.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(store_url: str) -> Iterator[ScoreStore]:
    """An empty score store; PostgreSQL tables are dropped again after the test."""
    opened = ScoreStore(store_url)
    try:
        yield opened
    finally:
        opened.dispose()
        if store_url.startswith("postgresql"):
            engine = sa.create_engine(engine_url(store_url))
            metadata.drop_all(engine)
            engine.dispose()


@pytest.fixture
def champion(simulated_set: tuple[Any, Any, Path]) -> RunOutcome:
    """A model trained on the simulated set (no rolling backtest) and registered as the
    champion of this test's workspace MLflow."""
    frame, manifest, path = simulated_set
    config = load_config()
    config = config.model_copy(update={
        "split": config.split.model_copy(update={"backtest_folds": 0})})
    return run_training(frame, manifest, config, path)
