"""A score store whose disk fills up during a run's write: the error says the disk is full
and what to do, and no part of the run is stored.

SQLite reports a full disk as SQLITE_FULL ("database or disk is full"). The same error,
from SQLite itself, comes from a database that may not grow: `PRAGMA max_page_count` set
to the file's current size on every connection makes the next growing write fail as a
full disk would, without privileges or a small filesystem.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from books import FEB, JAN, book

from serving.store.models import ScoreStoreError
from serving.store.schema import metadata
from serving.store.score_store import ScoreStore


def _counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                    for t in metadata.sorted_tables}
    finally:
        engine.dispose()


@pytest.fixture
def full_disk() -> Iterator[None]:
    """Every SQLite connection opened from now on may not grow its database file."""
    def no_growth(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        pages = cursor.execute("PRAGMA page_count").fetchone()[0]
        cursor.execute(f"PRAGMA max_page_count = {max(pages, 1)}")
        cursor.close()

    sa.event.listen(sa.engine.Engine, "connect", no_growth)
    try:
        yield
    finally:
        sa.event.remove(sa.engine.Engine, "connect", no_growth)


def test_a_run_written_to_a_full_disk_is_refused_whole_with_the_fix(tmp_path, request):
    url = f"sqlite:///{tmp_path / 'scores.db'}"
    with ScoreStore(url) as store:
        first = store.write_run("7", JAN, book(JAN, {"a1": 0.2, "a2": 0.7}))
    before = _counts(url)

    request.getfixturevalue("full_disk")
    many = {f"acct{i:05d}": (i % 97) / 100 for i in range(3000)}  # far more than a page
    with ScoreStore(url) as store, pytest.raises(ScoreStoreError) as raised:
        store.write_run("7", FEB, book(FEB, many))
    message = str(raised.value)
    assert "Writing the scoring run" in message and "nothing was written" in message
    assert "The disk is full: free some space on the disk holding" in message
    assert str(tmp_path / "scores.db") in message

    with ScoreStore(url) as store:
        runs = store.runs()
    assert [run.id for run in runs] == [first]
    assert _counts(url) == before
