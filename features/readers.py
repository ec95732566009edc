"""Read raw source tables from a directory of CSV/Parquet files or a SQL database.

Readers return frames as stored, untyped beyond what the format carries (Parquet text
columns of the contract stay dictionary-encoded, as Parquet stores them); typing and
checking are `parsing` and `validation`'s jobs. A location is either a directory path or
a SQLAlchemy URL such as `sqlite:///crm.db` or `postgresql://host/db`.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from features.contract import TABLES, Table
from features.errors import ConfigError, SourceNotFoundError
from features.parsing import TEXT_KINDS

log = logging.getLogger(__name__)

DATASET_FILE = "dataset.json"
SUFFIXES = (".parquet", ".csv")


@dataclass(frozen=True)
class RawTable:
    """A table as read, with where it came from (for messages) and the seconds it took."""

    name: str
    frame: pd.DataFrame
    origin: str
    seconds: float = 0.0


@dataclass(frozen=True)
class RawSources:
    """Everything a location holds: the tables found and the stated data end, if any."""

    location: str
    tables: dict[str, RawTable]
    stated_data_end: pd.Timestamp | None


def is_database_url(location: str | Path) -> bool:
    return "://" in str(location)


def read_location(location: str | Path) -> RawSources:
    """Read every contract table present at `location` (directory or SQLAlchemy URL)."""
    if is_database_url(location):
        return _read_database(str(location))
    return _read_directory(Path(location))


def _read_directory(directory: Path) -> RawSources:
    if not directory.is_dir():
        raise SourceNotFoundError(
            f"Source directory {directory} does not exist. Point --data at a directory of "
            f"<table>.csv or <table>.parquet files, or create demo data with "
            f"`churnlens simulate --out {directory}`."
        )
    tables: dict[str, RawTable] = {}
    for name in TABLES:
        found = [directory / f"{name}{suffix}" for suffix in SUFFIXES
                 if (directory / f"{name}{suffix}").is_file()]
        if len(found) > 1:
            raise ConfigError(
                f"{directory} holds both {found[0].name} and {found[1].name}; keep one of them "
                f"so it is clear which {name} table to read."
            )
        if found:
            began = time.perf_counter()
            frame = _read_file(found[0], TABLES[name])
            tables[name] = RawTable(name, frame, str(found[0]), time.perf_counter() - began)
    return RawSources(str(directory), tables, _stated_data_end(directory))


def _read_file(path: Path, table: Table) -> pd.DataFrame:
    if path.suffix == ".parquet":
        try:
            return _read_parquet(path, table)
        except Exception as exc:  # pyarrow raises several types for damaged files
            raise ConfigError(
                f"{path} is not a readable Parquet file ({exc}). Re-export it, or save the "
                f"table as CSV instead."
            ) from exc
    try:
        # Read every column as text: parsing types is `parsing`'s job, with row numbers.
        # Only empty cells are missing: "NA" is North America and "None" may be a name.
        return pd.read_csv(path, dtype=str, skipinitialspace=True, keep_default_na=False,
                           na_values=[""])
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{path} is not a readable CSV file ({exc}). Save it as UTF-8 CSV with a header "
            f"row and one record per line."
        ) from exc


def _read_parquet(path: Path, table: Table) -> pd.DataFrame:
    """A Parquet file's columns, with the contract's text columns dictionary-encoded.

    Parquet usually stores repeated strings as a dictionary already; keeping them that
    way (as categoricals) holds each distinct id once instead of tens of millions of
    strings, and parsing, which types these kinds per distinct value, gets the distinct
    values for free. Other columns are read as stored.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    text = {c.name for c in table.columns if c.kind in TEXT_KINDS}
    schema = pq.read_schema(path)
    dictionary = [f.name for f in schema
                  if f.name in text and (pa.types.is_string(f.type)
                                         or pa.types.is_large_string(f.type)
                                         or pa.types.is_string_view(f.type))]
    return pd.read_parquet(path, read_dictionary=dictionary or None)


def _stated_data_end(directory: Path) -> pd.Timestamp | None:
    meta_path = directory / DATASET_FILE
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text())
        stated = meta.get("data_end")
        return parse_data_end(stated) if stated else None
    except (json.JSONDecodeError, ValueError, AttributeError) as exc:
        raise ConfigError(
            f"{meta_path} is not valid: {exc}. It should be JSON like "
            f'{{"data_end": "2025-12-31"}}, or delete it to infer the end from the data.'
        ) from exc


def parse_data_end(value: str | pd.Timestamp) -> pd.Timestamp:
    """The data's last covered day, as midnight UTC."""
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.normalize()


def _read_database(url: str) -> RawSources:
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(engine_url(url))
        with engine.connect() as conn:
            present = set(sa.inspect(conn).get_table_names())
            tables: dict[str, RawTable] = {}
            for name in (name for name in TABLES if name in present):
                began = time.perf_counter()
                frame = pd.read_sql_table(name, conn)
                tables[name] = RawTable(name, frame, f"{redact_url(url)} table {name}",
                                        time.perf_counter() - began)
    except ModuleNotFoundError as exc:
        raise SourceNotFoundError(
            f"No database driver for {redact_url(url)} ({exc.name} is not installed). Install it "
            f"into churnlens's environment, or export the tables as Parquet files."
        ) from exc
    except sa.exc.SQLAlchemyError as exc:
        raise SourceNotFoundError(
            f"Cannot read the database at {redact_url(url)}: {exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0]}. Check the URL, the server and the credentials."
        ) from exc
    finally:
        if "engine" in locals():
            engine.dispose()
    log.info("read %d tables from %s", len(tables), redact_url(url))
    return RawSources(redact_url(url), tables, None)


def engine_url(url: str) -> str:
    """The URL SQLAlchemy should open: a bare `postgresql://` means the installed psycopg 3.

    SQLAlchemy maps a bare PostgreSQL URL to psycopg2, which churnlens does not ship;
    people paste bare URLs from their database console, so they are accepted as written.
    """
    for bare in ("postgresql://", "postgres://"):
        if url.startswith(bare):
            return "postgresql+psycopg://" + url[len(bare):]
    return url


def redact_url(url: str) -> str:
    """The URL without its password, fit for messages and logs."""
    import sqlalchemy as sa

    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url.split("@")[-1]
