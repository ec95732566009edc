"""Account buckets: a base split by account so each part is read, built and scored alone.

`bucket = crc32(account_id) mod B` (never Python's `hash`, which is salted per process),
so an account and all its records land in the same bucket on every machine and run.
`features.sources.partitioning` writes a source as hive-style Parquet, one directory per
table with one per bucket (`usage_events/bucket=007/part-0.parquet`, the same for every
table), and a manifest (`buckets.json`) of what every bucket shares: the bucket count,
the data's end, each table's last record, the day outcomes are known through, where the
history starts, the first term's start, how often each usage event type occurs, row
counts, fingerprints and warnings. `load_bucket` reads one bucket's folders and types
and checks it as any source is checked, with the manifest's base-wide facts in place of
the bucket's own, so a bucket's features are exactly those the whole base gives its
accounts. An account's records all share its bucket, so the check that every record
names a known account holds per bucket.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.errors import ConfigError, DataContractError, SourceNotFoundError, Violation
from features.sources.contract import TABLES
from features.sources.loading import Sources, sources_of
from features.sources.readers import OUTCOME_TABLES, PARTITIONED_MARK, RawSources, RawTable
from features.sources.usage_reach import UsageReach, trim_usage
from features.sources.validation import merged

log = logging.getLogger(__name__)

MANIFEST = PARTITIONED_MARK
BUCKET = "bucket"
MAX_BUCKETS = 4096


def bucket_of(account_ids: pd.Series | list[str], buckets: int) -> np.ndarray:
    """Each account id's bucket: crc32 of its UTF-8 text, mod `buckets` (worked out once
    per distinct id: a usage table names each account millions of times)."""
    codes, distinct = pd.factorize(pd.Series(account_ids, dtype=object).astype(str))
    per_id = np.fromiter((zlib.crc32(a.encode()) % buckets for a in distinct),
                         dtype=np.int64, count=len(distinct))
    return per_id[codes]


@dataclass(frozen=True)
class Manifest:
    """What every bucket of a partitioned base shares."""

    buckets: int
    data_end: pd.Timestamp
    label_end: pd.Timestamp | None
    table_ends: dict[str, pd.Timestamp]
    history_start: pd.Timestamp
    first_term_start: pd.Timestamp
    event_counts: dict[str, int]
    rows: dict[str, int]
    source: str
    fingerprints: dict[str, str]
    warnings: list[str]
    table_starts: dict[str, pd.Timestamp] = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for key in ("data_end", "label_end", "history_start", "first_term_start"):
            out[key] = None if out[key] is None else out[key].isoformat()
        out["table_ends"] = {k: v.isoformat() for k, v in self.table_ends.items()}
        out["table_starts"] = {k: v.isoformat() for k, v in self.table_starts.items()}
        return {"version": 1, **out}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        def stamp(value: str | None) -> pd.Timestamp | None:
            return None if value is None else pd.Timestamp(value)

        return cls(int(data["buckets"]), pd.Timestamp(data["data_end"]),
                   stamp(data["label_end"]),
                   {k: pd.Timestamp(v) for k, v in data["table_ends"].items()},
                   pd.Timestamp(data["history_start"]), pd.Timestamp(data["first_term_start"]),
                   {str(k): int(v) for k, v in data["event_counts"].items()},
                   {str(k): int(v) for k, v in data["rows"].items()}, str(data["source"]),
                   {str(k): str(v) for k, v in data["fingerprints"].items()},
                   [str(w) for w in data["warnings"]],
                   {k: pd.Timestamp(v) for k, v in data.get("table_starts", {}).items()})

    def whole_base(self, directory: str | Path) -> Sources:
        """The base's facts without its rows: what a training set's manifest records
        about the sources it was built from (location, ends, warnings, fingerprints)."""
        return Sources({}, self.data_end, str(directory), list(self.warnings),
                       table_ends=dict(self.table_ends), label_end=self.label_end,
                       history_from=self.history_start,
                       known_fingerprints=dict(self.fingerprints))


def is_partitioned(location: str | Path) -> bool:
    return "://" not in str(location) and (Path(location) / MANIFEST).is_file()


def read_manifest(directory: str | Path) -> Manifest:
    path = Path(directory) / MANIFEST
    try:
        return Manifest.from_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise SourceNotFoundError(f"{directory} is not a partitioned source: it has no "
                                  f"{MANIFEST}. Make one with `churnlens partition`.") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path} cannot be read ({exc}); partition the source again "
                          f"with `churnlens partition`.") from None


def load_bucket(directory: str | Path, bucket: int, manifest: Manifest | None = None, *,
                usage_reach: UsageReach | None = None) -> Sources:
    """One bucket of a partitioned base, typed and checked, with the base's shared facts;
    `usage_reach` trims its usage as `load_sources` trims a Parquet table for scoring."""
    root = Path(directory)
    manifest = manifest or read_manifest(root)
    if not 0 <= bucket < manifest.buckets:
        raise ConfigError(f"bucket {bucket} does not exist: {root} has buckets 0 to "
                          f"{manifest.buckets - 1}.")
    tables = {name: _bucket_table(root, name, bucket, manifest.data_end,
                                  usage_reach if name == "usage_events" else None)
              for name in TABLES if (root / name).is_dir()}
    return _with_base_facts(RawSources(f"{root}#bucket={bucket}", tables, manifest.data_end),
                            manifest)


def check_buckets(directory: str | Path, manifest: Manifest | None = None) -> None:
    """Check every bucket as `load_bucket` checks it and raise their problems together,
    each example naming its bucket, as `churnlens partition` reports a source's."""
    root = Path(directory)
    manifest = manifest or read_manifest(root)
    problems: list[Violation] = []
    for bucket in range(manifest.buckets):
        try:
            load_bucket(root, bucket, manifest)
        except DataContractError as exc:
            problems += [dataclasses.replace(v, examples=[f"bucket {bucket}, {e}"
                                                          for e in v.examples])
                         for v in exc.violations]
    if problems:
        raise DataContractError(merged(problems))


def load_outcomes(directory: str | Path, manifest: Manifest | None = None) -> Sources:
    """Every bucket's accounts and subscriptions, typed and checked: what judging past
    runs needs (term outcomes), a few columns per account however large the usage."""
    import pyarrow.dataset as ds

    root = Path(directory)
    manifest = manifest or read_manifest(root)
    tables = {}
    for name in sorted(OUTCOME_TABLES):
        files = sorted((root / name).glob(f"{BUCKET}=*/*.parquet"))
        frame = ds.dataset(files, format="parquet").to_table().to_pandas()
        tables[name] = RawTable(name, frame, f"{root / name} (every bucket)")
    return _with_base_facts(RawSources(str(root), tables, manifest.data_end), manifest,
                            outcomes_only=True)


def _with_base_facts(raw: RawSources, manifest: Manifest, outcomes_only: bool = False
                     ) -> Sources:
    sources = sources_of(raw, manifest.data_end, part_of_base=True,
                         outcomes_only=outcomes_only)
    return dataclasses.replace(sources, table_ends=dict(manifest.table_ends),
                               label_end=manifest.label_end,
                               history_from=manifest.history_start)


def _bucket_table(root: Path, name: str, bucket: int, data_end: pd.Timestamp,
                  reach: UsageReach | None) -> RawTable:
    """A table's rows in one bucket, read from that bucket's folder alone: its files'
    types are its own (a column empty in this bucket is typed null here and text
    elsewhere; parsing types it). A bucket without the table gets its empty schema."""
    import pyarrow.dataset as ds

    folder = root / name / f"{BUCKET}={bucket:03d}"
    origin = f"{root / name} (bucket {bucket})"
    if not folder.is_dir():
        some = sorted((root / name).glob(f"{BUCKET}=*/*.parquet"))[:1]
        empty = ds.dataset(some, format="parquet").schema.empty_table()
        return RawTable(name, empty.to_pandas(), origin)
    table = ds.dataset(sorted(folder.glob("*.parquet")), format="parquet").to_table()
    trim = trim_usage(table, reach, data_end) if reach is not None else None
    if trim is None:
        return RawTable(name, table.to_pandas(), origin)
    frame = table.filter(trim.keep).to_pandas()
    frame.index = pd.Index(np.flatnonzero(trim.keep))
    return RawTable(name, frame, origin, read_from=trim.first_day, source_rows=table.num_rows)
