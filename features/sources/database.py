"""Source tables in a SQL database: opening it, finding the contract's tables, reading them.

A location with `://` is a SQLAlchemy URL (`sqlite:///crm.db`, `postgresql://host/db`).
Two ways to read a table: whole (`readers.read_location`, for a base that fits in
memory) or in batches of rows on a streaming cursor (`table_batches`, for `churnlens
partition`, which must not hold a large base whole). Either way the columns come as the
driver types them; `parsing` types them for the contract.

Every failure to open or read the database becomes a `SourceNotFoundError` that names
the URL without its password and says what to check.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from features.errors import SourceNotFoundError
from features.sources.contract import TABLES

if TYPE_CHECKING:
    import sqlalchemy as sa


def is_database_url(location: str | Path) -> bool:
    return "://" in str(location)


@contextmanager
def open_database(url: str) -> Iterator[sa.Connection]:
    """A connection to the database at `url`, closed on leaving; a missing driver, a
    server out of reach or a failed query is a `SourceNotFoundError`."""
    import sqlalchemy as sa

    engine = None
    try:
        engine = sa.create_engine(engine_url(url))
        with engine.connect() as conn:
            yield conn
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
        if engine is not None:
            engine.dispose()


def contract_tables(conn: sa.Connection) -> list[str]:
    """The contract's tables the database holds, in contract order."""
    import sqlalchemy as sa

    present = set(sa.inspect(conn).get_table_names())
    return [name for name in TABLES if name in present]


def read_table(conn: sa.Connection, name: str) -> pd.DataFrame:
    """A table whole, rows in the database's order."""
    return pd.read_sql_table(name, conn)


def table_batches(conn: sa.Connection, name: str, rows: int) -> Iterator[pd.DataFrame]:
    """A table about `rows` rows at a time, in the order reading it whole gives, on a
    server-side cursor where the driver has one (PostgreSQL), so the database's client
    never holds the table whole either. At least one frame, empty for an empty table."""
    streaming = conn.execution_options(stream_results=True, max_row_buffer=rows)
    yielded = False
    for frame in pd.read_sql_table(name, streaming, chunksize=rows):
        yielded = True
        yield frame
    if not yielded:
        yield read_table(conn, name)


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
