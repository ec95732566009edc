"""Damaged source directories for the fuzzing tests, and the one outcome they may have.

A damaged file must either load (damage that leaves a valid table, such as a cut at a
line end) or stop the run with a `ChurnlensError` whose message says what is wrong; any
other exception is a crash a user would see as a traceback. Each example writes a fresh
directory holding the two mandatory tables plus the damaged one, to keep examples fast.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, settings
from tiny_sources import DATA_END, tiny_tables, write_tables

from features.errors import ChurnlensError
from features.sources.loading import Sources, load_sources
from features.sources.usage_reach import UsageReach

# Bounded, so the fuzzing runs in seconds (`make fuzz` sets CHURNLENS_FUZZ_EXAMPLES to
# search far more); no example database, so nothing is written into the repository and a
# run depends only on its seed (fixed under `make test`'s `ci` profile).
FUZZ = settings(max_examples=int(os.environ.get("CHURNLENS_FUZZ_EXAMPLES", "50")),
                deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
MANDATORY = ("accounts", "subscriptions")
# Scoring reads a Parquet usage table trimmed to a reach: a second way to read it.
SCORING_REACH = UsageReach(90, dt.date(2024, 6, 1))


@contextmanager
def base_directory(damaged: str) -> Iterator[Path]:
    """A fresh directory with the mandatory tables and `damaged` as valid CSV, plus
    dataset.json; the caller then damages `<damaged>.csv` or replaces it."""
    tables = tiny_tables()
    keep = {name: tables[name] for name in {*MANDATORY, damaged}}
    with tempfile.TemporaryDirectory(prefix="damaged-") as root:
        yield write_tables(Path(root) / "sources", keep, "csv", DATA_END)


def load_or_refuse(directory: Path, *, with_reach: bool = False) -> ChurnlensError | None:
    """Load `directory`; None when it loads, the error when it is refused with a message.

    Any exception other than a `ChurnlensError` propagates and fails the example.
    `with_reach` loads it a second time the way scoring does, trimming Parquet usage.
    """
    refused = _attempt(directory, None)
    if with_reach:
        again = _attempt(directory, SCORING_REACH)
        if refused is None and again is not None:
            # Scoring reads fewer usage rows, so it may only accept what validation does.
            raise AssertionError(f"scoring refused what validation accepts: {again}")
    return refused


def assert_refused(directory: Path, *mentions: str, with_reach: bool = False) -> str:
    """Loading must stop with a ChurnlensError naming each of `mentions`; returns it."""
    refused = load_or_refuse(directory, with_reach=with_reach)
    assert refused is not None, f"damaged sources at {directory} loaded without an error"
    for mention in mentions:
        assert mention in refused.message, (mention, refused.message)
    return refused.message


def _attempt(directory: Path, reach: UsageReach | None) -> ChurnlensError | None:
    logging.disable(logging.WARNING)  # warnings of damaged tables would flood the output
    try:
        loaded: Sources = load_sources(directory, usage_reach=reach)
    except ChurnlensError as exc:
        assert exc.message.strip(), f"{type(exc).__name__} without a message"
        return exc
    finally:
        logging.disable(logging.NOTSET)
    assert set(MANDATORY) <= set(loaded.tables)
    for frame in loaded.tables.values():
        assert isinstance(frame, pd.DataFrame)
    return None
