"""A run scored bucket by bucket, alone or on a Dask cluster, is the single-pass run:
the same scores, reasons, evidence, features, counts, shadow scores, alert facts,
renewals and last records."""

from __future__ import annotations

import pytest

from features.sources.loading import load_sources
from serving.batch import (
    ScoredPart,
    Shadow,
    default_as_of,
    joined,
    score_part,
    score_partitioned,
    scoring_reach,
)
from serving.risk import Bands

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def single(simulated_sources, trained_model) -> tuple[ScoredPart, Shadow]:
    as_of = default_as_of(simulated_sources)
    trimmed = load_sources(simulated_sources.location, usage_reach=scoring_reach(as_of))
    shadow = Shadow(trained_model, "2")
    return joined([score_part(trimmed, trained_model, "1", as_of, Bands(), 30, shadow)],
                  trained_model), shadow


def _assert_same_run(got: ScoredPart, expected: ScoredPart) -> None:
    assert len(got.scored.scores) == len(expected.scored.scores) > 500
    assert got.scored.scores == expected.scored.scores  # scores, reasons, infos, evidence
    assert got.scored.features == expected.scored.features
    assert got.scored.counts == expected.scored.counts
    assert got.scored.shadow == expected.scored.shadow
    assert got.scored.facts == expected.scored.facts
    assert list(got.scored.facts) == list(expected.scored.facts)
    assert got.renewals == expected.renewals and got.renewals
    assert got.last_records == expected.last_records


@pytest.mark.parametrize("buckets", [1, 7, 64])
def test_bucket_by_bucket_scoring_is_the_single_pass_run(simulated_sources, trained_model,
                                                         partitioned, single, buckets):
    expected, shadow = single
    as_of = default_as_of(simulated_sources)
    got = score_partitioned(partitioned(buckets), trained_model, "1", as_of, Bands(), 30,
                            shadow)
    _assert_same_run(got, expected)


@pytest.mark.parametrize("buckets", [1, 7, 64])
def test_scoring_on_a_dask_cluster_is_the_single_pass_run(simulated_sources, trained_model,
                                                          partitioned, single, dask_runner,
                                                          buckets):
    expected, shadow = single
    as_of = default_as_of(simulated_sources)
    got = score_partitioned(partitioned(buckets), trained_model, "1", as_of, Bands(), 30,
                            shadow, runner=dask_runner)
    _assert_same_run(got, expected)
