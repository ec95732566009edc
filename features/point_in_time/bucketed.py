"""Training sets of a partitioned base, built one account bucket at a time.

Every feature reads one account's own records, so a bucket builds alone: the snapshot
dates and key features come from the manifest (the whole base's), each bucket is loaded,
built and released in turn, and the rows are put in the single-process order (as_of,
then account id). Peak memory is set by one bucket's sources, not by the base. On a
Dask cluster (`features.distributed`) each bucket is one task and the rows come back
to the caller, which joins them the same way.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pandas as pd

from features.distributed.cluster import InProcess, Progress, Runner
from features.point_in_time.build import explicit_key_features, key_features_by_use
from features.point_in_time.spec import TrainingSetSpec
from features.point_in_time.training_set import build_rows, snapshots_start
from features.sources.buckets import Manifest, load_bucket, read_manifest

log = logging.getLogger(__name__)



def bucketed_plan(manifest: Manifest, spec: TrainingSetSpec
                  ) -> tuple[list[pd.Timestamp], tuple[str, ...]]:
    """The snapshot dates and key features of the whole partitioned base."""
    start = snapshots_start(manifest.first_term_start, manifest.history_start,
                            manifest.data_end)
    dates = list(spec.as_of_dates(start, manifest.data_end))
    if spec.key_features is not None:
        keys = explicit_key_features(spec.key_features)
    else:
        keys = key_features_by_use(pd.Series(manifest.event_counts, dtype="int64"))
    return dates, keys


def build_bucketed(directory: str | Path, spec: TrainingSetSpec,
                   progress: Progress | None = None,
                   runner: Runner | None = None) -> pd.DataFrame:
    """The training set of the partitioned base at `directory`, bucket by bucket, each
    bucket in turn here or as a task of `runner` (a Dask cluster)."""
    root = str(Path(directory).absolute())  # the path workers see, links and all
    manifest = read_manifest(root)
    dates, keys = bucketed_plan(manifest, spec)
    began = time.perf_counter()
    parts = (runner or InProcess()).map(
        build_bucket, range(manifest.buckets), progress, directory=root, manifest=manifest,
        dates=dates, grace_days=spec.grace_days, keys=keys)
    log.info("built %d buckets in %.1f s", manifest.buckets, time.perf_counter() - began)
    return combine([p for p in parts if p is not None])


def build_bucket(bucket: int, directory: str, manifest: Manifest,
                 dates: list[pd.Timestamp], grace_days: int,
                 keys: tuple[str, ...]) -> pd.DataFrame | None:
    """One bucket's training rows (None: the bucket holds no account); a task on its own."""
    sources = load_bucket(directory, bucket, manifest)
    if not len(sources.accounts):
        return None
    return build_rows(sources, dates, grace_days, keys, None)


def combine(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Bucket frames as one, in the single-process order, categories united."""
    for column in parts[0].columns:
        if not isinstance(parts[0][column].dtype, pd.CategoricalDtype):
            continue
        first = parts[0][column].cat.categories
        if all(p[column].cat.categories.equals(first) for p in parts):
            continue  # the catalog fixed them, or every bucket saw every value
        # Categories read from the data: the whole base's are its sorted values.
        union = sorted(set().union(*(p[column].cat.categories for p in parts)))
        for part in parts:
            part[column] = part[column].cat.set_categories(union)
    frame = pd.concat(parts, ignore_index=True)
    order = frame.sort_values(["as_of", "account_id"], kind="stable").index
    return frame.loc[order].reset_index(drop=True)
