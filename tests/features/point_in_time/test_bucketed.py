"""A training set built bucket by bucket is exactly the single-process one."""

from __future__ import annotations

import pandas as pd
import pytest

from features.point_in_time.bucketed import build_bucketed
from features.point_in_time.spec import TrainingSetSpec
from features.point_in_time.training_set import build_training_set
from features.sources.buckets import partition

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def whole(simulated_sources) -> pd.DataFrame:
    return build_training_set(simulated_sources, TrainingSetSpec())


@pytest.mark.parametrize("buckets", [1, 7, 64])
def test_the_bucketed_training_set_equals_the_single_process_one(simulated_sources, whole,
                                                                  tmp_path, buckets):
    out = tmp_path / "parts"
    partition(simulated_sources.location, out, buckets)
    seen = []
    built = build_bucketed(out, TrainingSetSpec(), progress=lambda d, n: seen.append((d, n)))
    assert seen[-1] == (buckets, buckets)
    pd.testing.assert_frame_equal(built, whole)
