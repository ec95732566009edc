"""A training set built bucket by bucket is exactly the single-process one."""

from __future__ import annotations

import pandas as pd
import pytest

from features.point_in_time.bucketed import build_bucketed
from features.point_in_time.spec import TrainingSetSpec
from features.point_in_time.training_set import build_training_set

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def whole(simulated_sources) -> pd.DataFrame:
    return build_training_set(simulated_sources, TrainingSetSpec())


@pytest.mark.parametrize("buckets", [1, 7, 64])
def test_the_bucketed_training_set_equals_the_single_process_one(partitioned, whole, buckets):
    out = partitioned(buckets)
    seen = []
    built = build_bucketed(out, TrainingSetSpec(), progress=lambda d, n: seen.append((d, n)))
    assert seen[-1] == (buckets, buckets)
    pd.testing.assert_frame_equal(built, whole)


@pytest.mark.parametrize("buckets", [1, 7, 64])
def test_the_training_set_built_on_a_dask_cluster_equals_the_single_process_one(
        partitioned, whole, dask_runner, buckets):
    out = partitioned(buckets)
    seen = []
    built = build_bucketed(out, TrainingSetSpec(), runner=dask_runner,
                           progress=lambda d, n: seen.append((d, n)))
    assert [d for d, _ in seen] == list(range(1, buckets + 1))
    pd.testing.assert_frame_equal(built, whole)
