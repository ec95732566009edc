"""A training set built bucket by bucket is exactly the single-process one."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from features.point_in_time.artifacts import content_hash, read_training_set, write_training_set
from features.point_in_time.bucketed import write_bucketed
from features.point_in_time.spec import TrainingSetSpec
from features.point_in_time.training_set import build_training_set
from features.sources.buckets import read_manifest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def whole(simulated_sources) -> pd.DataFrame:
    return build_training_set(simulated_sources, TrainingSetSpec())


def _written(out: Path, workspace: Path, **how) -> tuple[Path, pd.DataFrame, dict]:
    path = write_bucketed(out, TrainingSetSpec(), read_manifest(out).whole_base(out),
                          workspace=workspace, **how)
    folder = path.parent
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".")]  # nothing aside
    return path, *read_training_set(path)


def _same_manifest(written: dict, whole: pd.DataFrame, sources, tmp_path: Path) -> None:
    """The manifest `write_training_set` gives the single-process frame, but for when
    and from where it was written."""
    expected = read_training_set(write_training_set(whole, TrainingSetSpec(), sources,
                                                    workspace=tmp_path / "whole"))[1]
    for key in set(expected) - {"created_at", "sources"}:
        assert written[key] == expected[key], key


@pytest.mark.parametrize("buckets", [1, 7, 64])
def test_the_bucketed_training_set_equals_the_single_process_one(partitioned, whole, buckets,
                                                                  simulated_sources, tmp_path):
    out = partitioned(buckets)
    seen = []
    path, built, manifest = _written(out, tmp_path, progress=lambda d, n: seen.append((d, n)))
    assert seen[-1] == (buckets, buckets)
    pd.testing.assert_frame_equal(built, whole)
    assert path.name == f"{content_hash(whole)}.parquet"
    _same_manifest(manifest, whole, simulated_sources, tmp_path)


@pytest.mark.parametrize("buckets", [1, 7, 64])
def test_the_training_set_built_on_a_dask_cluster_equals_the_single_process_one(
        partitioned, whole, dask_runner, buckets, tmp_path):
    out = partitioned(buckets)
    seen = []
    path, built, _ = _written(out, tmp_path, runner=dask_runner,
                              progress=lambda d, n: seen.append((d, n)))
    assert [d for d, _ in seen] == list(range(1, buckets + 1))
    pd.testing.assert_frame_equal(built, whole)
    assert path.name == f"{content_hash(whole)}.parquet"
