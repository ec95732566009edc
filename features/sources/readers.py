"""Read raw source tables from a directory of CSV/Parquet files or a SQL database.

Readers return frames as stored, untyped beyond what the format carries (Parquet text
columns of the contract stay dictionary-encoded, as Parquet stores them); typing and
checking are `parsing` and `validation`'s jobs. A frame's index is each row's position in
its source, from 0, so messages name the rows of the file even when some were skipped.
A location is either a directory path or a SQLAlchemy URL such as `sqlite:///crm.db` or
`postgresql://host/db`.

Scoring at one as_of needs only the usage a `UsageReach` names; a Parquet usage table is
then trimmed to it as it is read (`features.sources.usage_reach`), before its rows become pandas
objects. CSV files and databases are read whole even then: their text must be parsed
before a row can be placed in time, and usage large enough to matter comes as Parquet.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from features.errors import ConfigError, SourceNotFoundError
from features.sources.contract import TABLES, Table
from features.sources.database import (
    contract_tables,
    is_database_url,
    open_database,
    read_table,
    redact_url,
)
from features.sources.parsing import TEXT_KINDS

if TYPE_CHECKING:
    import pyarrow as pa

    from features.sources.usage_reach import UsageReach

log = logging.getLogger(__name__)

DATASET_FILE = "dataset.json"
# The days a stated data end may name: windows and grace periods run past it, and
# timestamps are stored in nanoseconds, which end in 2262.
FIRST_DAY = pd.Timestamp("1900-01-01", tz="UTC")
LAST_DAY = pd.Timestamp("2199-12-31", tz="UTC")
SUFFIXES = (".parquet", ".csv")
PARTITIONED_MARK = "buckets.json"  # the manifest of `features.sources.buckets`


@dataclass(frozen=True)
class RawTable:
    """A table as read, with where it came from (for messages) and the seconds it took.

    `read_from` is set when the source holds more rows than `frame`: those dated before
    it were read only where a `UsageReach` needs them, and `source_rows` counts them all.
    """

    name: str
    frame: pd.DataFrame
    origin: str
    seconds: float = 0.0
    read_from: pd.Timestamp | None = None
    source_rows: int | None = None


@dataclass(frozen=True)
class RawSources:
    """Everything a location holds: the tables found and the stated data end, if any."""

    location: str
    tables: dict[str, RawTable]
    stated_data_end: pd.Timestamp | None


# What term outcomes are read from: the contracts and the accounts they belong to.
OUTCOME_TABLES = frozenset({"accounts", "subscriptions"})


def read_location(location: str | Path, usage_reach: UsageReach | None = None,
                  data_end: pd.Timestamp | None = None, *,
                  outcomes_only: bool = False) -> RawSources:
    """Read every contract table present at `location` (directory or SQLAlchemy URL).

    With `usage_reach`, a Parquet usage table is trimmed to the rows it names as it is
    read; `data_end` (else the directory's stated one) then fixes the default as_of.
    `outcomes_only` reads just OUTCOME_TABLES when the data's end is known without the
    other tables (given, or stated in the directory); otherwise every table, since the
    latest record of any of them is then the data's end.
    """
    if is_database_url(location):
        return _read_database(str(location))
    return _read_directory(Path(location), usage_reach, data_end, outcomes_only)


def table_file(directory: Path, name: str) -> Path | None:
    """The file holding table `name` in a source directory (None: absent); two are refused."""
    found = [directory / f"{name}{suffix}" for suffix in SUFFIXES
             if (directory / f"{name}{suffix}").is_file()]
    if len(found) > 1:
        raise ConfigError(
            f"{directory} holds both {found[0].name} and {found[1].name}; keep one of them "
            f"so it is clear which {name} table to read."
        )
    return found[0] if found else None


@contextmanager
def readable_parquet(path: Path) -> Iterator[None]:
    """Damage found while reading `path`, as the error a user can act on."""
    try:
        yield
    except ConfigError:
        raise
    except Exception as exc:  # pyarrow raises several types for damaged files
        raise ConfigError(
            f"{path} is not a readable Parquet file ({exc}). Re-export it, or save the "
            f"table as CSV instead."
        ) from exc


def dictionary_columns(schema: pa.Schema, table: Table) -> list[str] | None:
    """The contract's text columns stored as strings: read dictionary encoded."""
    import pyarrow as pa

    text = {c.name for c in table.columns if c.kind in TEXT_KINDS}
    return [f.name for f in schema if f.name in text and (
        pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
        or pa.types.is_string_view(f.type))] or None


def _read_directory(directory: Path, usage_reach: UsageReach | None,
                    data_end: pd.Timestamp | None, outcomes_only: bool = False
                    ) -> RawSources:
    if not directory.is_dir():
        raise SourceNotFoundError(
            f"Source directory {directory} does not exist. Point --data at a directory of "
            f"<table>.csv or <table>.parquet files, or create demo data with "
            f"`churnlens simulate --out {directory}`."
        )
    if (directory / PARTITIONED_MARK).is_file():
        raise ConfigError(
            f"{directory} is a partitioned source (`churnlens partition`): `churnlens build` "
            f"reads it one bucket at a time, but this command reads a source whole. Point "
            f"--data at the source it was made from ({PARTITIONED_MARK} names it).")
    stated = stated_data_end_of(directory)
    tables: dict[str, RawTable] = {}
    end_known = data_end is not None or stated is not None
    for name in TABLES:
        if outcomes_only and end_known and name not in OUTCOME_TABLES:
            continue
        path = table_file(directory, name)
        if path is not None:
            began = time.perf_counter()
            reach = usage_reach if name == "usage_events" else None
            if path.suffix == ".parquet":
                known_end = data_end if data_end is not None else stated
                frame, read_from, rows = _read_parquet(path, TABLES[name], reach, known_end)
            else:
                frame, read_from, rows = read_csv_text(path), None, None
            tables[name] = RawTable(name, frame, str(path), time.perf_counter() - began,
                                    read_from, rows)
    return RawSources(str(directory), tables, stated)


def read_csv_text(path: Path) -> pd.DataFrame:
    try:
        # Read every column as text: parsing types is `parsing`'s job, with row numbers.
        # Only empty cells are missing: "NA" is North America and "None" may be a name.
        frame = pd.read_csv(path, dtype=str, skipinitialspace=True, keep_default_na=False,
                            na_values=[""])
        refuse_repeated_columns(path, _csv_header(path))
        return frame
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except (pd.errors.ParserError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(
            f"{path} is not a readable CSV file ({exc}). Save it as UTF-8 CSV with a header "
            f"row and one record per line."
        ) from exc


def _csv_header(path: Path) -> list[str]:
    """The header row's names as written: pandas renames a repeated `a` to `a.1`, which
    would hide that the file names a column twice."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return [name.strip() for name in next(csv.reader(handle), [])]


def refuse_repeated_columns(path: Path, names: list[str]) -> None:
    """Two columns of one name leave it unclear which one holds the table's values."""
    counts = Counter(name for name in names if name)
    repeated = sorted(name for name, n in counts.items() if n > 1)
    if repeated:
        raise ConfigError(
            f"{path} has more than one column named {', '.join(map(repr, repeated))}; keep "
            f"one column of each name (rename or delete the others) and load it again."
        )


def _read_parquet(path: Path, table: Table, reach: UsageReach | None,
                  data_end: pd.Timestamp | None
                  ) -> tuple[pd.DataFrame, pd.Timestamp | None, int | None]:
    """A Parquet file's columns, with the contract's text columns dictionary-encoded.

    Parquet usually stores repeated strings as a dictionary already; keeping them that
    way (as categoricals) holds each distinct id once instead of tens of millions of
    strings, and parsing, which types these kinds per distinct value, gets the distinct
    values for free. Other columns are read as stored.

    With a `reach` the rows are trimmed to it before they become pandas objects
    (`features.sources.usage_reach`); the first day read in full and the file's row count are
    returned beside the frame then, and None, None otherwise.
    """
    with readable_parquet(path):
        arrow = _read_arrow(path, table)
    import pyarrow as pa

    trim = None
    if reach is not None:
        from features.sources.usage_reach import trim_usage

        trim = trim_usage(arrow, reach, data_end)
    try:
        if trim is None:
            return arrow.to_pandas().reset_index(drop=True), None, None
        frame = arrow.filter(trim.keep).to_pandas()
    except pa.ArrowException as exc:  # e.g. bytes that are no UTF-8 in a text column
        raise ConfigError(
            f"{path} has a column pandas cannot read ({exc}). Re-export it with text "
            f"columns as UTF-8 strings, or save the table as CSV instead."
        ) from exc
    frame.index = pd.Index(np.flatnonzero(trim.keep))
    return frame, trim.first_day, arrow.num_rows


def _read_arrow(path: Path, table: Table) -> pa.Table:
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    refuse_repeated_columns(path, list(schema.names))
    read = pq.read_table(path, read_dictionary=dictionary_columns(schema, table),
                         use_pandas_metadata=True, memory_map=True)
    # Parquet does not check that text is UTF-8; a damaged page would raise deep inside
    # parsing instead. A full check is a scan of the values (milliseconds per million rows).
    read.validate(full=True)
    return bytes_as_text(path, read, set(table.column_names))


def bytes_as_text(path: Path, read: pa.Table, contract: set[str]) -> pa.Table:
    """Contract columns stored as bytes, as the UTF-8 text every contract column is read
    as; bytes that are not UTF-8 are refused here, naming the column, rather than failing
    in parsing."""
    import pyarrow as pa

    for at, field in enumerate(read.schema):
        if field.name in contract and (pa.types.is_binary(field.type)
                                       or pa.types.is_large_binary(field.type)
                                       or pa.types.is_fixed_size_binary(field.type)):
            try:
                read = read.set_column(at, field.name, read.column(at).cast(pa.string()))
            except pa.ArrowInvalid as exc:
                raise ConfigError(
                    f"{path}: column {field.name} holds bytes that are not UTF-8 text "
                    f"({exc}). Re-export it with {field.name} as UTF-8 strings."
                ) from exc
    return read


def stated_data_end_of(directory: Path) -> pd.Timestamp | None:
    meta_path = directory / DATASET_FILE
    if not meta_path.is_file():
        return None
    fix = ('It should be JSON like {"data_end": "2025-12-31"}, or delete it to infer the '
           "end from the data.")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except ValueError as exc:  # not JSON, or not UTF-8 text
        raise ConfigError(f"{meta_path} is not valid: {exc}. {fix}") from exc
    if not isinstance(meta, dict):
        raise ConfigError(f"{meta_path} is not valid: it holds {type(meta).__name__}, not an "
                          f"object. {fix}")
    stated = meta.get("data_end")
    if stated is None or stated == "":
        return None
    return stated_data_end(stated, f"data_end in {meta_path}", fix)


def stated_data_end(value: object, where: str, fix: str = "") -> pd.Timestamp:
    """A data end a person wrote (`--data-end`, dataset.json) as midnight UTC; ConfigError
    for anything that is not a day between FIRST_DAY and LAST_DAY.

    The data end bounds every check and window, so a number, a list or a typo must stop
    the run with the value in the message, not turn into 1970 or a traceback; days near
    the end of the representable range would overflow the windows that run past it.
    """
    stamp = None
    if isinstance(value, str | dt.date | np.datetime64) and not isinstance(value, bool):
        try:
            stamp = parse_data_end(value.strip() if isinstance(value, str) else value)
        except (ValueError, TypeError, OverflowError, NotImplementedError, AttributeError):
            stamp = None  # AttributeError: NaT has no normalize
    if stamp is None or pd.isna(stamp) or not FIRST_DAY <= stamp <= LAST_DAY:
        raise ConfigError(
            f"{where} is {value!r}, which is not a day from {FIRST_DAY.date()} to "
            f"{LAST_DAY.date()}. " + (fix or "Write it as YYYY-MM-DD, e.g. 2025-12-31."))
    return stamp


def parse_data_end(value: str | dt.date | np.datetime64 | pd.Timestamp) -> pd.Timestamp:
    """The data's last covered day, as midnight UTC."""
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.normalize()


def _read_database(url: str) -> RawSources:
    tables: dict[str, RawTable] = {}
    with open_database(url) as conn:
        for name in contract_tables(conn):
            began = time.perf_counter()
            frame = read_table(conn, name)
            tables[name] = RawTable(name, frame, f"{redact_url(url)} table {name}",
                                    time.perf_counter() - began)
    log.info("read %d tables from %s", len(tables), redact_url(url))
    return RawSources(redact_url(url), tables, None)


def to_arrow(frame: pd.DataFrame, schema: pa.Schema | None = None) -> pa.Table:
    """The frame as an Arrow table, as `DataFrame.to_parquet` converts it (its index left out)."""
    import pyarrow as pa

    with warnings.catch_warnings():  # pyarrow reads tz-aware columns by .values
        warnings.filterwarnings("ignore", message=".*drops timezone information")
        return pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
