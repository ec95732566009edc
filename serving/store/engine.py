"""Opening the score store's database: SQLite files or in memory, PostgreSQL, any URL.

A bare `postgresql://` URL opens psycopg 3; a SQLite file's directory is created if
missing, and every SQLite connection gets foreign keys and the write-ahead log. JSON is
written compactly and refuses NaN, which no JSON reader accepts.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from features.sources.database import engine_url, redact_url
from serving.store.models import ScoreStoreError

_dumps = functools.partial(json.dumps, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False)


def create_engine(url: str) -> sa.Engine:
    try:
        parsed = sa.engine.make_url(engine_url(url))
    except sa.exc.ArgumentError as exc:
        raise ScoreStoreError(f"{url!r} is not a database URL. Use e.g. "
                              f"sqlite:////path/scores.db or postgresql://user@host/db.") from exc
    options: dict[str, Any] = {"json_serializer": _dumps}
    sqlite = parsed.get_backend_name() == "sqlite"
    if sqlite:
        file = sqlite_file(parsed)
        if file is None:
            options |= {"poolclass": sa.pool.StaticPool,
                        "connect_args": {"check_same_thread": False}}
        else:
            file.parent.mkdir(parents=True, exist_ok=True)
    else:
        options["pool_pre_ping"] = True
        if parsed.get_backend_name() == "postgresql":
            options["connect_args"] = {"connect_timeout": 5}
    try:
        engine = sa.create_engine(parsed, **options)
    except ModuleNotFoundError as exc:
        raise ScoreStoreError(f"No database driver for {redact_url(url)} ({exc.name} is not "
                              f"installed). Use SQLite or PostgreSQL, whose drivers "
                              f"churnlens ships.") from exc
    if sqlite:
        sa.event.listen(engine, "connect", sqlite_pragmas)
    return engine


def sqlite_file(url: sa.URL) -> Path | None:
    """The file of a SQLite store; None for other databases and in-memory SQLite."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Foreign keys on; WAL so the API reads while a batch run is being written."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
