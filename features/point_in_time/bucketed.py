"""Training sets of a partitioned base, built one account bucket at a time.

Every feature reads one account's own records, so a bucket builds alone: the snapshot
dates and key features come from the manifest (the whole base's), each bucket is loaded,
built and released in turn, its rows set aside on disk, and the rows are then written
an as_of at a time in the single-process order (as_of, then account id). Peak memory is
set by one bucket's sources and one as_of's rows, not by the base. On a Dask cluster
(`features.distributed`) each bucket is one task and its rows come back to the caller,
which sets them aside as they arrive.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from features.distributed.cluster import InProcess, Progress, Runner
from features.errors import ConfigError
from features.point_in_time.artifacts import training_set_folder, write_training_set_pieces
from features.point_in_time.build import explicit_key_features, key_features_by_use
from features.point_in_time.spec import TrainingSetSpec
from features.point_in_time.training_set import build_rows, snapshots_start
from features.sources.buckets import Manifest, load_bucket, read_manifest
from features.sources.loading import Sources
from features.sources.readers import to_arrow

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


def write_bucketed(directory: str | Path, spec: TrainingSetSpec, sources: Sources, *,
                   progress: Progress | None = None, runner: Runner | None = None,
                   workspace: Path | None = None, out: Path | None = None) -> Path:
    """Build the training set of the partitioned base at `directory` bucket by bucket
    (here, or as tasks of `runner`, a Dask cluster) and write it as `write_training_set`
    writes the single-process one: the same file, name and manifest.

    Each bucket's rows are written aside as they arrive, one row group per as_of, then
    joined an as_of at a time in the single-process order (as_of, then account id), so
    neither the buckets nor their rows are ever held together."""
    root = str(Path(directory).absolute())  # the path workers see, links and all
    manifest = read_manifest(root)
    dates, keys = bucketed_plan(manifest, spec)
    folder = out.parent if out is not None else training_set_folder(spec, workspace)
    folder.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=".bucket-rows-", dir=folder) as aside:
        parts: dict[int, SetAside] = {}
        levels = Levels()
        for index, rows in (runner or InProcess()).each(
                build_bucket, range(manifest.buckets), progress, directory=root,
                manifest=manifest, dates=dates, grace_days=spec.grace_days, keys=keys):
            if rows is not None:
                levels.add(rows)
                parts[index] = set_aside(rows, Path(aside) / f"{index:05d}.parquet")
                del rows
        log.info("built %d buckets in %.1f s", manifest.buckets, time.perf_counter() - began)
        if not parts:
            raise ConfigError(f"{directory} holds no accounts to build a training set from.")
        ordered = [parts[i] for i in sorted(parts)]
        return write_training_set_pieces(by_as_of(ordered, levels.categories()), spec,
                                         sources, workspace=workspace, out=out)


def build_bucket(bucket: int, directory: str, manifest: Manifest,
                 dates: list[pd.Timestamp], grace_days: int,
                 keys: tuple[str, ...]) -> pd.DataFrame | None:
    """One bucket's training rows (None: the bucket holds no account); a task on its own."""
    sources = load_bucket(directory, bucket, manifest)
    if not len(sources.accounts):
        return None
    return build_rows(sources, dates, grace_days, keys, None)


@dataclass
class SetAside:
    """A bucket's rows on disk: its file and the row group of each as_of."""

    path: Path
    groups: dict[pd.Timestamp, int]


def set_aside(rows: pd.DataFrame, path: Path) -> SetAside:
    """Write a bucket's rows with one row group per as_of, each in the rows' order."""
    table = to_arrow(rows)
    groups = {}
    with pq.ParquetWriter(path, table.schema) as writer:
        for group, (as_of, positions) in enumerate(
                rows.groupby("as_of", sort=True).indices.items()):
            writer.write_table(table.take(positions), row_group_size=len(positions))
            groups[pd.Timestamp(as_of)] = group
    return SetAside(path, groups)


class Levels:
    """The categories of the joined rows: those every bucket shares (the catalog fixed
    them, or every bucket saw every value), else the whole base's sorted values."""

    def __init__(self) -> None:
        self.first: dict[str, pd.Index] = {}
        self.same: dict[str, bool] = {}
        self.union: dict[str, set[Any]] = {}

    def add(self, rows: pd.DataFrame) -> None:
        for column in rows.columns:
            if not isinstance(rows[column].dtype, pd.CategoricalDtype):
                continue
            levels = rows[column].cat.categories
            self.first.setdefault(column, levels)
            self.same[column] = self.same.get(column, True) and levels.equals(
                self.first[column])
            self.union.setdefault(column, set()).update(levels)

    def categories(self) -> dict[str, list[Any]]:
        return {c: list(self.first[c]) if self.same[c] else sorted(self.union[c])
                for c in self.first}


def by_as_of(parts: list[SetAside], categories: dict[str, list[Any]]
             ) -> Iterator[pd.DataFrame]:
    """Every bucket's rows of one as_of at a time, in the single-process order."""
    # not pre-buffered: the buffers read ahead stay with a reader until it is closed
    files = [pq.ParquetFile(part.path, pre_buffer=False) for part in parts]
    try:
        for as_of in sorted(set().union(*(part.groups for part in parts))):
            pieces = [file.read_row_group(part.groups[as_of]).to_pandas()
                      for part, file in zip(parts, files, strict=True)
                      if as_of in part.groups]
            for piece in pieces:
                for column, levels in categories.items():
                    piece[column] = piece[column].cat.set_categories(levels)
            rows = pd.concat(pieces, ignore_index=True)
            yield rows.sort_values("account_id", kind="stable").reset_index(drop=True)
    finally:
        for file in files:
            file.close()
