"""`churnlens partition`: a source split into account buckets, never held whole.

Two passes, each holding a slice of the base at a time:

1. Split. Every table is read in batches of rows (Parquet row groups and database
   tables stream, a database's values typed as they come; a CSV file is read one table
   at a time) and each row goes, as read, to its account's bucket (`buckets.bucket_of`
   of the account id as parsing types it), with its row number in the source so
   messages can name it.
2. Check and type. Each bucket is typed and checked as any source is (`sources_of`),
   written as the bucket's typed Parquet, and its share of the base-wide facts kept:
   table ends, the latest record, the first activity and term, event-type counts, row
   counts, fingerprints (`fingerprint`, which add up over buckets), accounts without
   subscriptions or usage, and the keys that are not per account (subscription and
   ticket ids) so that a key repeated in two buckets is found from the key sets alone.
   Every record names its account's bucket, so "every record names a known account"
   holds per bucket.

Problems of every bucket are reported together, naming source rows; nothing is written
then. The output appears only when complete: it is written beside its place, renamed in.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features.errors import ConfigError, DataContractError, Violation
from features.sources.buckets import BUCKET, MANIFEST, MAX_BUCKETS, Manifest, bucket_of
from features.sources.contract import TABLES, Table
from features.sources.coverage import coverage_warning, label_end
from features.sources.database import (
    contract_tables,
    is_database_url,
    open_database,
    redact_url,
    table_batches,
)
from features.sources.fingerprint import TableDigest, digest
from features.sources.loading import (
    ACTIVITY_TABLES,
    missing_tables,
    sources_of,
    warn_unknown_columns,
)
from features.sources.parsing import MAX_EXAMPLES, parse_table, typed_values
from features.sources.readers import (
    LAST_DAY,
    RawSources,
    RawTable,
    bytes_as_text,
    dictionary_columns,
    parse_data_end,
    read_csv_text,
    read_location,
    readable_parquet,
    refuse_repeated_columns,
    stated_data_end,
    stated_data_end_of,
    table_file,
    to_arrow,
)
from features.sources.validation import (
    check_values,
    merged,
    quiet_accounts,
    soft_warning_lines,
)

log = logging.getLogger(__name__)

ROW = "__source_row"
BATCH_ROWS = 1 << 20  # rows read at a time
FLUSH_ROWS = 1 << 22  # rows held for the buckets before they are written
GLOBAL_KEYS = {"subscriptions": "subscription_id", "tickets": "ticket_id"}  # not per account
T = TypeVar("T")


@dataclass
class BaseFacts:
    """What the buckets add up to, gathered bucket by bucket."""

    table_ends: dict[str, pd.Timestamp] = field(default_factory=dict)
    table_starts: dict[str, pd.Timestamp] = field(default_factory=dict)
    latest: pd.Timestamp | None = None
    activity_start: pd.Timestamp | None = None
    first_term_start: pd.Timestamp | None = None
    event_counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    rows: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    digests: dict[str, TableDigest] = field(default_factory=lambda: defaultdict(TableDigest))
    orphans: list[tuple[int, str]] = field(default_factory=list)  # (source row, account)
    silent: list[tuple[int, str]] | None = None
    keys: dict[str, list[pd.DataFrame]] = field(default_factory=lambda: defaultdict(list))


def partition(location: str | Path, out: Path, buckets: int,
              data_end: str | None = None) -> Manifest:
    """Write the source at `location` as `buckets` account buckets under `out`
    (`data_end`: the data's last day, as `load_sources` takes it)."""
    if not 1 <= buckets <= MAX_BUCKETS:
        raise ConfigError(f"--buckets must be from 1 to {MAX_BUCKETS} (got {buckets}).")
    if out.exists():
        raise ConfigError(f"{out} exists; choose another --out, or remove it first.")
    explicit = stated_data_end(data_end, "The data end (--data-end)") if data_end else None
    database = is_database_url(location)
    stated = explicit if explicit is not None else (
        None if database else stated_data_end_of(Path(location)))
    shown = redact_url(str(location)) if database else str(location)
    partial = out.with_name(f".{out.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        split: dict[str, int] = {}
        unparsed: list[Violation] = []
        for name, batches in _tables(location, unparsed):
            split[name] = _split(batches, partial / ".split" / name, buckets, name)
            log.info("%s: %d rows split into %d buckets", name, split[name], buckets)
        missing = missing_tables(shown, split)
        if missing or unparsed:  # the checks on values left unparsed would be spurious
            raise DataContractError(missing + merged(unparsed))
        facts = BaseFacts()
        problems: list[Violation] = []
        for bucket in range(buckets):
            problems += _check_bucket(partial, bucket, stated, facts, shown)
            if (bucket + 1) % max(1, buckets // 8) == 0 or bucket + 1 == buckets:
                log.info("checked and typed %d of %d buckets", bucket + 1, buckets)
        problems += _keys_in_two_buckets(facts)
        unreadable = {v.table for v in problems if v.problem == "required column(s) missing"}
        problems += [v for name, rows in split.items() if not rows and name not in unreadable
                     for v in check_values(TABLES[name], pd.DataFrame())]  # "no rows"
        if problems:
            raise DataContractError(merged(problems))
        shutil.rmtree(partial / ".split")
        manifest = _manifest(facts, buckets, stated, shown)
        (partial / MANIFEST).write_text(json.dumps(manifest.to_json(), indent=1) + "\n",
                                        encoding="utf-8")
        partial.rename(out)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    for warning in manifest.warnings:
        log.warning(warning)
    return manifest


def _tables(location: str | Path, problems: list[Violation]
            ) -> Iterator[tuple[str, Iterable[pa.Table]]]:
    """Each table present, as batches of rows in source order; a database's values that
    fail to parse are added to `problems` as they are read."""
    if is_database_url(location):
        with open_database(str(location)) as conn:
            for name in contract_tables(conn):
                yield name, _database_batches(table_batches(conn, name, BATCH_ROWS),
                                              TABLES[name], problems,
                                              f"{redact_url(str(location))} table {name}")
        return
    directory = Path(location)
    if not directory.is_dir() or (directory / MANIFEST).is_file():
        read_location(directory)  # raises the reader's own error: missing, or partitioned
    for name in TABLES:
        path = table_file(directory, name)
        if path is not None:
            yield name, _batches(path, TABLES[name], BATCH_ROWS)


def _database_batches(frames: Iterable[pd.DataFrame], table: Table,
                      problems: list[Violation], origin: str) -> Iterator[pa.Table]:
    """A database table's batches typed for the contract as they are read: a driver
    gives a column whatever Python types its values have (SQLite mixes them freely), so
    they are typed before they can be stored, each value as reading the table whole
    types it. The contract columns present are kept, so a missing one is still reported."""
    start = 0
    for frame in frames:
        frame.index = pd.RangeIndex(start, start + len(frame))  # rows named in the table
        if start == 0:
            warn_unknown_columns(table, frame.columns, origin)
        start += len(frame)
        present = [c for c in table.column_names if c in frame.columns]
        typed, bad = parse_table(table, frame[present])
        problems += bad
        read = to_arrow(typed[present])
        # A categorical's codes are as wide as its batch's categories need: one width for
        # every batch, so the bucket's batches join.
        yield read.cast(pa.schema([
            pa.field(f.name, pa.dictionary(pa.int32(), f.type.value_type))
            if pa.types.is_dictionary(f.type) else f for f in read.schema]))


def _batches(path: Path, table: Table, rows: int) -> Iterator[pa.Table]:
    """A table file's contract columns in file order, about `rows` rows at a time, as
    reading it whole gives them: Parquet row groups stream (text columns dictionary
    encoded, bytes as UTF-8 text); a CSV file is read whole, every column as text."""
    if path.suffix != ".parquet":
        frame = read_csv_text(path)
        known = [c for c in frame.columns if c in table.column_names]
        # without one contract column, all of them, so the check can name the separator
        yield pa.Table.from_pandas(frame[known] if known else frame, preserve_index=False)
        return
    with readable_parquet(path):
        schema = pq.read_schema(path)
        refuse_repeated_columns(path, list(schema.names))
        names = [n for n in schema.names if n in table.column_names]
        # Neither mapped nor pre-buffered: a mapped file's pages, and the buffers of the
        # row groups read ahead, stay with the reader as it goes through the file, so
        # the process would grow with the file however small its batches.
        file = pq.ParquetFile(path, read_dictionary=dictionary_columns(schema, table),
                              memory_map=False, pre_buffer=False)
        if file.metadata.num_rows == 0:  # no batch to read: the empty table, typed
            yield bytes_as_text(path, file.schema_arrow.empty_table().select(names)
                                 .replace_schema_metadata(None), set(table.column_names))
            return
        for batch in file.iter_batches(batch_size=rows, columns=names,
                                       use_pandas_metadata=False):
            read = pa.Table.from_batches([batch]).replace_schema_metadata(None)
            read.validate(full=True)
            yield bytes_as_text(path, read, set(table.column_names))


def _split(batches: Iterable[pa.Table], folder: Path, buckets: int, name: str) -> int:
    """Write a table's rows to `folder/bucket=NNN/part-KKKKK.parquet` by account bucket,
    each with its source row number; returns the rows."""
    held: dict[int, list[pa.Table]] = defaultdict(list)
    count = held_rows = parts = 0
    empty: pa.Table | None = None
    id_column = TABLES[name].column("account_id")

    def flush() -> None:
        nonlocal held_rows, parts
        for bucket, pieces in held.items():
            target = folder / f"{BUCKET}={bucket:03d}"
            target.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.concat_tables(pieces), target / f"part-{parts:05d}.parquet")
        held.clear()
        held_rows, parts = 0, parts + 1

    for batch in batches:
        batch = batch.append_column(ROW, pa.array(np.arange(count, count + len(batch))))
        count += len(batch)
        empty = batch.schema.empty_table()
        if not len(batch):
            continue
        if "account_id" in batch.column_names:
            ids = typed_values(id_column, batch.column("account_id").to_pandas())
            keys = bucket_of(ids.fillna(""), buckets)
        else:  # bucket 0 reports the missing column
            keys = np.zeros(len(batch), dtype=np.int64)
        order = np.argsort(keys, kind="stable")
        found, starts = np.unique(keys[order], return_index=True)
        for bucket, lo, hi in zip(found, starts, [*starts[1:], len(order)], strict=True):
            held[int(bucket)].append(batch.take(order[lo:hi]))
        held_rows += len(batch)
        if held_rows >= FLUSH_ROWS:
            flush()
    if count == 0 and empty is not None:
        held[0].append(empty)  # an empty table keeps its schema in bucket 0
    flush()
    return count


def _check_bucket(root: Path, bucket: int, stated: pd.Timestamp | None, facts: BaseFacts,
                  location: str) -> list[Violation]:
    """Type and check one bucket, write it typed and add its share to `facts`."""
    tables, source_rows = {}, {}
    for table_dir in sorted((root / ".split").iterdir()):
        name = table_dir.name
        folder = table_dir / f"{BUCKET}={bucket:03d}"
        files = sorted(folder.glob("*.parquet")) if folder.is_dir() else \
            sorted(table_dir.glob(f"{BUCKET}=*/*.parquet"))[:1]
        read = pa.concat_tables([pq.read_table(f) for f in files])
        frame = (read if folder.is_dir() else read.schema.empty_table()).to_pandas()
        frame.index = pd.Index(frame.pop(ROW).to_numpy(dtype=np.int64))
        source_rows[name] = frame.index.to_numpy()
        tables[name] = RawTable(name, frame, f"{location} ({name}, bucket {bucket})")
        key = GLOBAL_KEYS.get(name)
        if key is not None and key in frame.columns and len(frame):
            # kept even when the bucket breaks the contract, so the report is complete
            facts.keys[name].append(pd.DataFrame({
                key: typed_values(TABLES[name].column(key), frame[key]).to_numpy(),
                ROW: frame.index.to_numpy()}))
    raw = RawSources(f"{location}#bucket={bucket}", tables, stated)
    try:
        # Without a stated end no record can lie after the data's end (it is the latest
        # record's day); the far bound keeps the check from firing on a bucket's own end.
        sources = sources_of(raw, stated if stated is not None else LAST_DAY,
                             part_of_base=True)
    except DataContractError as exc:
        return exc.violations
    _add_facts(facts, sources.tables, source_rows)
    for name, frame in sources.tables.items():
        if len(frame) or bucket == 0:  # bucket 0 keeps every table's schema
            folder = root / name / f"{BUCKET}={bucket:03d}"
            folder.mkdir(parents=True)
            frame.to_parquet(folder / "part-0.parquet", index=False)
    return []


def _add_facts(facts: BaseFacts, frames: dict[str, pd.DataFrame],
               source_rows: dict[str, np.ndarray]) -> None:
    for name, frame in frames.items():
        facts.rows[name] += len(frame)
        facts.digests[name] += digest(frame)
        column = TABLES[name].time_column
        if column and len(frame) and frame[column].notna().any():
            end = pd.Timestamp(frame[column].max()).normalize()
            facts.table_ends[name] = max(end, facts.table_ends.get(name, end))
            start = pd.Timestamp(frame[column].min())
            facts.table_starts[name] = min(start, facts.table_starts.get(name, start))
        for col in TABLES[name].columns:
            if col.dated and len(frame) and frame[col.name].notna().any():
                latest = pd.Timestamp(frame[col.name].max())
                facts.latest = latest if facts.latest is None else max(facts.latest, latest)
        if name in ACTIVITY_TABLES and len(frame) and column:
            first = pd.Timestamp(frame[column].min())
            facts.activity_start = first if facts.activity_start is None else \
                min(facts.activity_start, first)
    starts = frames["subscriptions"]["start_date"]
    if len(starts) and starts.notna().any():
        first = pd.Timestamp(starts.min())
        facts.first_term_start = first if facts.first_term_start is None else \
            min(facts.first_term_start, first)
    if "usage_events" in frames:
        counts = frames["usage_events"]["event_type"].value_counts()
        for event, n in counts.items():
            facts.event_counts[str(event)] += int(n)
    _add_quiet_accounts(facts, frames, source_rows["accounts"])


def _add_quiet_accounts(facts: BaseFacts, frames: dict[str, pd.DataFrame],
                        rows: np.ndarray) -> None:
    orphans, silent = quiet_accounts(frames)
    facts.orphans += zip(rows[orphans.index.to_numpy()], orphans.astype(str), strict=True)
    if silent is not None:
        facts.silent = (facts.silent or []) + list(
            zip(rows[silent.index.to_numpy()], silent.astype(str), strict=True))


def _keys_in_two_buckets(facts: BaseFacts) -> list[Violation]:
    """Keys of tables not keyed by account repeated across buckets (within a bucket the
    bucket's own check finds them)."""
    out = []
    for name, parts in facts.keys.items():
        key = GLOBAL_KEYS[name]
        frame = pd.concat([p.assign(_part=i) for i, p in enumerate(parts)], ignore_index=True)
        frame = frame[frame[key].notna()]
        spread = frame.groupby(key, sort=False)["_part"].transform("nunique")
        across = frame[spread > 1].sort_values(ROW)
        if across.empty:
            continue
        # rows whose key repeats within their own bucket were counted by that bucket
        alone = across.groupby([key, "_part"], sort=False)[ROW].transform("size") == 1
        shown = [f"{k!r} on rows {', '.join(str(r + 1) for r in group[ROW].to_numpy()[:4])}"
                 for k, group in list(across.groupby(key, sort=False))[:MAX_EXAMPLES]]
        out.append(Violation(name, key, "duplicate primary keys",
                             f"each {key} must appear once; remove repeated exports or give "
                             f"the records distinct ids", shown, count=int(alone.sum())))
    return out


def _manifest(facts: BaseFacts, buckets: int, stated: pd.Timestamp | None,
              location: str) -> Manifest:
    if stated is not None:
        end = stated
    elif facts.latest is not None:
        end = parse_data_end(facts.latest)
    else:
        end = pd.Timestamp.now(tz="UTC").normalize()
    labels_through = label_end(facts.table_ends, end, stated is not None)
    orphans = sorted(facts.orphans)
    silent = None if facts.silent is None else sorted(facts.silent)
    warnings = soft_warning_lines(len(orphans), [a for _, a in orphans[:3]],
                                  None if silent is None else len(silent),
                                  [a for _, a in (silent or [])[:3]])
    apart = coverage_warning(facts.table_ends, labels_through, stated is not None)
    if apart is not None:
        warnings.insert(0, apart)
    def in_contract_order(by_table: dict[str, T]) -> dict[str, T]:
        return {name: by_table[name] for name in TABLES if name in by_table}

    first_term = facts.first_term_start if facts.first_term_start is not None else end
    history = facts.activity_start if facts.activity_start is not None else first_term
    return Manifest(buckets, end, labels_through, in_contract_order(facts.table_ends),
                    history, first_term, dict(facts.event_counts),
                    in_contract_order(facts.rows), location,
                    {n: d.hexdigest() for n, d in sorted(facts.digests.items())}, warnings,
                    in_contract_order(facts.table_starts))

