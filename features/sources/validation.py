"""The contract's rules beyond types: values, keys, row rules and cross-table rules.

Each check returns `Violation`s (errors: the run stops, nothing is written) or warning
strings (soft problems worth knowing about, such as accounts with no usage at all).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.errors import Violation
from features.sources.contract import ACCOUNT_TABLES, Table
from features.sources.ids import among
from features.sources.parsing import MAX_EXAMPLES, examples, render_value


def check_values(table: Table, frame: pd.DataFrame,
                 unparsed: frozenset[str] = frozenset()) -> list[Violation]:
    """Empty required values, allowed values, ranges, keys and row rules of one table.

    Columns in `unparsed` already had values reported as unparseable; those values are
    missing now and are not reported a second time as empty.
    """
    out: list[Violation] = []
    if frame.empty:
        return [Violation(table.name, None, "the table has no rows",
                          f"export the {table.name} rows, or remove the file if the "
                          f"table is not available" + (" (it is mandatory)" if table.mandatory
                                                       else ""))]
    for col in table.columns:
        values = frame[col.name]
        if col.required and not col.nullable and col.name not in unparsed:
            out += _flag(table, col.name, values.isna(), values, "empty values",
                         f"every row needs a {col.name}")
        if col.allowed is not None:
            bad = values.notna() & ~values.isin(col.allowed)
            out += _flag(table, col.name, bad, values, "values outside the allowed set",
                         f"use one of: {', '.join(col.allowed)}")
        if col.minimum is not None:
            out += _flag(table, col.name, values < col.minimum, values,
                         f"values below {col.minimum:g}",
                         f"{col.name} must be at least {col.minimum:g}")
        if col.maximum is not None:
            out += _flag(table, col.name, values > col.maximum, values,
                         f"values above {col.maximum:g}",
                         f"{col.name} must be at most {col.maximum:g}")
    if table.primary_key:
        out += _duplicate_keys(table, frame)
    for rule in table.ordered:
        earlier, later = frame[rule.earlier], frame[rule.later]
        bad = (later <= earlier) if rule.strict else (later < earlier)
        word = "on or before" if rule.strict else "before"
        out += _flag(table, rule.later, bad.fillna(False), frame[[rule.earlier, rule.later]],
                     f"{rule.later} {word} {rule.earlier}", rule.fix)
    for by_kind in table.ranges_by_kind:
        kinds, values = frame[by_kind.kind], frame[by_kind.value]
        for kind, (low, high) in by_kind.ranges.items():
            bad = (kinds == kind) & ((values < low) | (values > high))
            shown = frame[[by_kind.kind, by_kind.value]]
            out += _flag(table, by_kind.value, bad.fillna(False), shown,
                         f"{kind} scores outside {low:g}-{high:g}",
                         f"{kind} scores run from {low:g} to {high:g}; rescale or drop them")
    return out


def check_accounts_known(frames: dict[str, pd.DataFrame]) -> list[Violation]:
    """Every record names an account of the accounts table."""
    known = pd.Index(frames["accounts"]["account_id"].unique())
    out: list[Violation] = []
    for name in ACCOUNT_TABLES:
        if name not in frames:
            continue
        ids = frames[name]["account_id"]
        bad = ids.notna() & ~among(ids, known)
        out += _flag_table(name, "account_id", bad, ids, "records for unknown accounts",
                           "add the accounts to the accounts table, or drop their records")
    return out


def check_not_after(frames: dict[str, pd.DataFrame], tables: dict[str, Table],
                    data_end: pd.Timestamp) -> list[Violation]:
    """No event is dated after the data's stated last day."""
    limit = data_end + pd.Timedelta(days=1)
    out: list[Violation] = []
    for name, frame in frames.items():
        for col in tables[name].columns:
            if col.dated:
                values = frame[col.name]
                out += _flag_table(
                    name, col.name, (values >= limit).fillna(False), values,
                    f"records dated after the data's end ({data_end.date()})",
                    "correct the dates, or state a later data end (--data-end or "
                    "data_end in dataset.json)")
    return out


def soft_warnings(frames: dict[str, pd.DataFrame]) -> list[str]:
    """Problems that do not stop a run but that a data scientist wants to know."""
    orphans, silent = quiet_accounts(frames)
    return soft_warning_lines(len(orphans), list(orphans.head(3)),
                              None if silent is None else len(silent),
                              [] if silent is None else list(silent.head(3)))


def quiet_accounts(frames: dict[str, pd.DataFrame]) -> tuple[pd.Series, pd.Series | None]:
    """The accounts without a subscription, and those without usage (None: no usage
    table), in the accounts table's order."""
    accounts = frames["accounts"]["account_id"]
    # `isin` against tens of millions of rows is slow; against their distinct ids it is not.
    subscribed = pd.Index(frames["subscriptions"]["account_id"].unique())
    orphans = accounts[~among(accounts, subscribed)]
    if "usage_events" not in frames:
        return orphans, None
    used = pd.Index(frames["usage_events"]["account_id"].unique())
    return orphans, accounts[~among(accounts, used)]


def soft_warning_lines(orphans: int, orphan_examples: list[str], silent: int | None,
                       silent_examples: list[str]) -> list[str]:
    out: list[str] = []
    if orphans:
        out.append(f"{orphans} accounts have no subscription and never enter a training "
                   f"set (e.g. {', '.join(orphan_examples)}).")
    if silent:
        out.append(f"{silent} accounts have no usage at all "
                   f"(e.g. {', '.join(silent_examples)}); their usage features are zero.")
    return out


def _duplicate_keys(table: Table, frame: pd.DataFrame) -> list[Violation]:
    key = list(table.primary_key)
    # Rows missing a key part are reported as empty values; as duplicates of each other
    # they would only repeat that (and their missing parts cannot be spelt as text).
    dup = frame.duplicated(key, keep=False) & frame[key].notna().all(axis=1)
    if not dup.any():
        return []
    rows = frame.index[dup.to_numpy()]
    groups = frame.loc[dup, key].astype(str).agg("/".join, axis=1)
    by_key = pd.Series(rows, index=groups.to_numpy()).groupby(level=0, sort=False)
    shown = [f"{k!r} on rows {', '.join(str(r + 1) for r in v.to_numpy()[:4])}"
             for k, v in list(by_key)[:5]]
    return [Violation(table.name, "/".join(key), "duplicate primary keys",
                      f"each {'/'.join(key)} must appear once; remove repeated exports or "
                      f"give the records distinct ids", shown, count=int(dup.sum()))]


def _flag(table: Table, column: str, bad: pd.Series, values: pd.Series, problem: str,
          fix: str) -> list[Violation]:
    return _flag_table(table.name, column, bad, values, problem, fix)


def _flag_table(table: str, column: str, bad: pd.Series, shown: pd.Series | pd.DataFrame,
                problem: str, fix: str) -> list[Violation]:
    """One violation for the rows in `bad`, with examples rendered from `shown`; rows
    are named by the frame's index, their position in the source."""
    mask = bad.fillna(False).to_numpy(dtype=bool)
    if not mask.any():
        return []
    where = np.flatnonzero(mask)
    rows = bad.index[where]
    picked = shown.iloc[where[:5]]
    if isinstance(picked, pd.DataFrame):
        rendered = [", ".join(f"{c}={render_value(v)}" for c, v in row.items())
                    for _, row in picked.iterrows()]
        return [Violation(table, column, problem, fix,
                          [f"row {r + 1}: {text}" for r, text in zip(rows, rendered,
                                                                     strict=False)],
                          count=len(where))]
    return [Violation(table, column, problem, fix,
                      examples(rows, picked.to_numpy()),
                      count=len(where))]


def merged(problems: list[Violation]) -> list[Violation]:
    """One violation per table, column and problem, counted over every part of a base
    checked in parts (its buckets, its batches of rows)."""
    merged: dict[tuple[str, str | None, str], Violation] = {}
    for v in problems:
        key = (v.table, v.column, v.problem)
        if key not in merged:
            merged[key] = Violation(v.table, v.column, v.problem, v.fix, list(v.examples),
                                    v.count)
            continue
        known = merged[key]
        known.examples[:] = (known.examples + v.examples)[:MAX_EXAMPLES]
        merged[key] = Violation(known.table, known.column, known.problem, known.fix,
                                known.examples, known.count + v.count)
    return list(merged.values())
