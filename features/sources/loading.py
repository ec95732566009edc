"""Load source tables into typed, validated frames: the only way data enters churnlens.

`load_sources` reads a directory or database, types every column, checks every rule of
the contract and either returns `Sources` or raises one `DataContractError` listing all
problems found. It never writes anything.

Scoring passes a `UsageReach`: a Parquet usage table is then read only as far back as
scoring at that as_of can see (`features.sources.usage_reach`), and older rows are neither typed
nor checked. Validating, building and training read and check every row.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from features.errors import ChurnlensError, DataContractError, Violation
from features.sources.contract import TABLES, Table
from features.sources.coverage import coverage_warning, label_end, table_ends
from features.sources.fingerprint import digest
from features.sources.parsing import parse_table
from features.sources.readers import (
    RawSources,
    parse_data_end,
    read_location,
    stated_data_end,
)
from features.sources.usage_reach import UsageReach
from features.sources.validation import (
    check_accounts_known,
    check_not_after,
    check_values,
    soft_warnings,
)

log = logging.getLogger(__name__)

ACTIVITY_TABLES = ("usage_events", "tickets", "surveys", "csm_notes")
SEPARATORS = (";", "\t", "|")  # what spreadsheets save "CSV" with in some locales


@dataclass
class Sources:
    """Validated source tables, typed per the contract, and the data's last covered day.

    `usage_from` is set when usage was loaded for scoring: of the rows before that day
    only each account and event type's last use is there, with the table's earliest and
    latest record and one row naming a user (`features.sources.usage_reach`), so only as_of
    dates whose reach starts on or after it see complete usage.
    """

    tables: dict[str, pd.DataFrame]
    data_end: pd.Timestamp
    location: str
    warnings: list[str] = field(default_factory=list)
    usage_from: pd.Timestamp | None = None
    # Each table's last record, and the last day term outcomes are known (`coverage`):
    # the stated data end, else the subscriptions' last record. None: the data end.
    table_ends: dict[str, pd.Timestamp] = field(default_factory=dict)
    label_end: pd.Timestamp | None = None
    # Where the whole base's history starts, when these tables are one bucket of it
    # (`features.sources.buckets`): a bucket's own earliest record may come later.
    history_from: pd.Timestamp | None = None
    # The tables' content hashes when they were taken before (a partitioned base's
    # manifest holds its whole tables' while only its facts are loaded here).
    known_fingerprints: dict[str, str] | None = None

    @property
    def outcomes_known_through(self) -> pd.Timestamp:
        """The day through which renewals and churn can be seen in the subscriptions."""
        return self.data_end if self.label_end is None else self.label_end

    @property
    def accounts(self) -> pd.DataFrame:
        return self.tables["accounts"]

    @property
    def subscriptions(self) -> pd.DataFrame:
        return self.tables["subscriptions"]

    def history_start(self) -> pd.Timestamp:
        """The first moment the sources record: the earliest activity record, else the
        earliest term start (a contracts-only export is taken to hold the whole history).

        Contracts often reach back years before the activity tables do (a CRM migration,
        usage tracking switched on later); sparse tables such as surveys start late by
        chance, so the earliest activity record counts, not the latest.
        """
        if self.history_from is not None:
            return self.history_from
        starts = [frame[TABLES[name].time_column].min() for name in ACTIVITY_TABLES
                  if (frame := self.tables.get(name)) is not None and len(frame)]
        return pd.Timestamp(min(starts) if starts else self.subscriptions["start_date"].min())

    def require_usage(self, as_of: pd.Timestamp, days: int, purpose: str) -> None:
        """Refuse to read usage `days` before `as_of` when the sources were loaded for a
        later as_of (`usage_from`): features or evidence would quietly lack rows."""
        if self.usage_from is None:
            return
        needed = pd.Timestamp(as_of).normalize() - pd.Timedelta(days=days)
        if needed < self.usage_from:
            raise ChurnlensError(
                f"Usage was loaded for scoring from {self.usage_from.date()} on, but "
                f"{purpose} as of {pd.Timestamp(as_of).date()} needs it from "
                f"{needed.date()}. Load the sources again with this as_of's reach "
                f"(`serving.batch.scoring_reach`), or without one.")

    def get(self, name: str) -> pd.DataFrame | None:
        """An optional table, or None when the source does not have it."""
        if name not in TABLES:
            raise KeyError(f"{name!r} is not a table of the data contract")
        return self.tables.get(name)

    def fingerprints(self) -> dict[str, str]:
        """A content hash per table: equal records give equal hashes, whatever the format,
        row order or split into buckets (`features.sources.fingerprint`)."""
        if self.known_fingerprints is not None:
            return dict(self.known_fingerprints)
        return {name: digest(frame).hexdigest() for name, frame in sorted(self.tables.items())}


def load_sources(location: str | Path, data_end: str | pd.Timestamp | None = None,
                 timings: dict[str, float] | None = None, *,
                 usage_reach: UsageReach | None = None,
                 outcomes_only: bool = False) -> Sources:
    """Read, type and validate every contract table at `location`.

    `data_end` is the last day the data covers; it defaults to `data_end` in the
    directory's dataset.json, else to the day of the latest dated record. `timings`,
    when given, receives the seconds spent on each table (reading, typing and its own
    checks) and on the checks across tables, for benchmarks.

    `usage_reach` is for scoring only: a Parquet usage table is trimmed to it as it is
    read, and the usage rows left out are neither typed nor checked (CSV files and
    databases are still read and checked whole).

    `outcomes_only` is for judging past runs, which need term outcomes alone: only the
    accounts and subscriptions are read when the data's end is known without the rest
    (`readers.read_location`), so term outcomes are known through the same day as when
    everything is read.
    """
    explicit_end = (stated_data_end(data_end, "The data end (--data-end)")
                    if data_end is not None else None)
    raw = read_location(location, usage_reach, explicit_end, outcomes_only=outcomes_only)
    return sources_of(raw, explicit_end, timings, outcomes_only=outcomes_only)


def sources_of(raw: RawSources, explicit_end: pd.Timestamp | None = None,
               timings: dict[str, float] | None = None, *,
               outcomes_only: bool = False, part_of_base: bool = False) -> Sources:
    """Type and validate tables as read (`load_sources` after reading them);
    `part_of_base`: the tables are one bucket of a base, where a table may be empty."""
    timings = {} if timings is None else timings
    violations: list[Violation] = missing_tables(raw.location, raw.tables)
    frames: dict[str, pd.DataFrame] = {}
    for name, raw_table in raw.tables.items():
        began = time.perf_counter()
        table = TABLES[name]
        missing = [c for c in table.required_columns if c not in raw_table.frame.columns]
        if missing:
            violations.append(_missing_columns(table, missing, raw_table.frame.columns))
            continue
        warn_unknown_columns(table, raw_table.frame.columns, raw_table.origin)
        frame, problems = parse_table(table, raw_table.frame)
        violations += problems
        if not (part_of_base and frame.empty):  # a bucket may hold none of a table
            violations += check_values(table, frame, frozenset(
                v.column for v in problems if v.column is not None))
        frames[name] = frame
        timings[name] = raw_table.seconds + time.perf_counter() - began
        log.debug("%s: %d rows read in %.1f s, typed and checked in %.1f s", name, len(frame),
                  raw_table.seconds, timings[name] - raw_table.seconds)
        if raw_table.read_from is not None and raw_table.source_rows is not None:
            log.info("%s: read usage from %s on, plus each account and event type's last "
                     "use before it (%s of %s rows); the %s older rows were not checked",
                     raw_table.origin, raw_table.read_from.date(), f"{len(frame):,}",
                     f"{raw_table.source_rows:,}", f"{raw_table.source_rows - len(frame):,}")
    began = time.perf_counter()
    end = _data_end(raw, frames, explicit_end)
    if "accounts" in frames:
        violations += check_accounts_known(frames)
    violations += check_not_after(frames, TABLES, end)
    if violations:
        raise DataContractError(violations)
    # Messages above name rows by their place in the source; later stages want plain rows.
    frames = {name: frame.reset_index(drop=True) for name, frame in frames.items()}
    usage = raw.tables.get("usage_events")
    ends = table_ends(frames)
    stated = explicit_end is not None or raw.stated_data_end is not None
    labels_through = label_end(ends, end, stated)
    # A bucket's own ends and oddities are not the base's: its manifest holds those.
    warnings = [] if part_of_base else soft_warnings(frames)
    apart = None if part_of_base else coverage_warning(ends, labels_through, stated)
    if apart is not None:
        warnings.insert(0, apart)
    sources = Sources(frames, end, raw.location, warnings,
                      usage.read_from if usage is not None else None, ends, labels_through)
    timings["across tables"] = time.perf_counter() - began
    for absent in (name for name in TABLES
                   if name not in frames and not outcomes_only and not part_of_base):
        log.info("no %s table at %s: its feature family will be absent", absent, raw.location)
    for warning in sources.warnings:
        log.warning(warning)
    return sources


def missing_tables(location: str, present: Iterable[str]) -> list[Violation]:
    """A violation for each mandatory table not among `present`."""
    found = set(present)
    return [
        Violation(name, None, f"the mandatory table is missing from {location}",
                  f"provide {name}.csv or {name}.parquet (columns: "
                  f"{', '.join(TABLES[name].required_columns)})")
        for name, table in TABLES.items()
        if table.mandatory and name not in found
    ]


def _missing_columns(table: Table, missing: list[str], present: pd.Index) -> Violation:
    have = ", ".join(map(str, present)) or "no columns"
    fix = f"add the column(s) {', '.join(missing)}; the table has: {have}"
    # One column whose name holds the others: a CSV file saved with another separator.
    if len(present) == 1:
        separator = next((s for s in SEPARATORS if s in str(present[0])), None)
        if separator is not None:
            fix = (f"the header looks separated by {separator!r}, not commas: save the file "
                   f"as comma-separated CSV; the table has: {have}")
    return Violation(table.name, ", ".join(missing), "required column(s) missing", fix)


def warn_unknown_columns(table: Table, present: pd.Index, origin: str) -> None:
    unknown = [str(c) for c in present if c not in table.column_names]
    if unknown:
        log.warning("%s: ignoring columns not in the contract: %s", origin, ", ".join(unknown))


def _data_end(raw: RawSources, frames: dict[str, pd.DataFrame],
              explicit: pd.Timestamp | None) -> pd.Timestamp:
    if explicit is not None:
        return explicit
    if raw.stated_data_end is not None:
        return raw.stated_data_end
    latest = [
        frame[col.name].max()
        for name, frame in frames.items()
        for col in TABLES[name].columns
        if col.dated and len(frame) and frame[col.name].notna().any()
    ]
    if not latest:
        return pd.Timestamp.now(tz="UTC").normalize()
    end = parse_data_end(max(latest))
    log.info("data end not stated; using the latest record's day, %s", end.date())
    return end
