"""A run scored bucket by bucket, alone or on a Dask cluster, and set aside bucket by
bucket until it is stored, is the single-pass run: the store holds the same scores,
reasons, evidence, counts, shadow scores, alert facts, renewals and last records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from books import stored_run

from features.sources.loading import load_sources
from serving.batch import (
    BatchResult,
    Shadow,
    default_as_of,
    run_batch,
    run_partitioned,
    scoring_reach,
)
from serving.risk import Bands
from serving.store.score_store import ScoreStore

pytestmark = pytest.mark.slow

RUN_TABLES = ("scores", "score_reasons", "score_evidence", "quarter_renewals",
              "run_profiles", "account_facts", "run_sources", "shadow_scores")


@pytest.fixture(scope="module")
def single(simulated_sources, trained_model, tmp_path_factory
           ) -> tuple[BatchResult, dict[str, list[tuple[Any, ...]]], Shadow]:
    as_of = default_as_of(simulated_sources)
    trimmed = load_sources(simulated_sources.location, usage_reach=scoring_reach(as_of))
    shadow = Shadow(trained_model, "2")
    url = f"sqlite:///{tmp_path_factory.mktemp('single') / 'scores.db'}"
    with ScoreStore(url) as store:
        result = run_batch(trimmed, trained_model, "1", store, as_of, Bands(), 30, shadow)
    return result, stored_run(url, result.run_id, RUN_TABLES), shadow


def _assert_same_run(url: str, got: BatchResult, single: tuple[BatchResult, Any, Shadow]
                     ) -> None:
    expected, rows, _ = single
    stored = stored_run(url, got.run_id, RUN_TABLES)
    assert len(stored["scores"]) == expected.accounts == got.accounts > 500
    for table in RUN_TABLES:
        assert stored[table] == rows[table] and rows[table], table
    assert (got.as_of, got.high_risk, got.example_request) == \
        (expected.as_of, expected.high_risk, expected.example_request)


def _score(directory: Path, model: Any, tmp_path: Path, shadow: Shadow, **options: Any
           ) -> tuple[str, BatchResult]:
    url = f"sqlite:///{tmp_path / 'scores.db'}"
    with ScoreStore(url) as store:
        return url, run_partitioned(directory, model, "1", store, None, Bands(), 30, shadow,
                                    **options)


@pytest.mark.parametrize("buckets", [1, 7, 64])
def test_bucket_by_bucket_scoring_stores_the_single_pass_run(trained_model, partitioned,
                                                             single, tmp_path, buckets):
    url, got = _score(partitioned(buckets), trained_model, tmp_path, single[2])
    _assert_same_run(url, got, single)


@pytest.mark.parametrize("buckets", [1, 7, 64])
def test_scoring_on_a_dask_cluster_stores_the_single_pass_run(trained_model, partitioned,
                                                              single, dask_runner, tmp_path,
                                                              buckets):
    url, got = _score(partitioned(buckets), trained_model, tmp_path, single[2],
                      runner=dask_runner)
    _assert_same_run(url, got, single)
