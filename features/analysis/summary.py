"""The first look a data scientist wants at a customer base: volumes, spans, retention.

Retention is measured per calendar year on the accounts paying at its start: logo churn
is the share no longer paying at its end, GRR their ARR kept (expansion capped at each
account's starting ARR) and NRR their ARR at the end over their ARR at the start.
Only years the data covers in full are reported, counted from the month its activity
history starts (`Sources.history_start`): contracts that reach back further show only the
few customers of those years who were still customers later, not the base of the time.
When no year is covered, the trailing 12 months.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from features.point_in_time.terms import arr_at, term_outcomes
from features.sources.buckets import load_outcomes, read_manifest
from features.sources.contract import TABLES
from features.sources.loading import Sources


@dataclass(frozen=True)
class Retention:
    period: str
    segment: str
    accounts: int
    logo_churn: float
    grr: float
    nrr: float


@dataclass(frozen=True)
class SourceSummary:
    tables: pd.DataFrame  # table, rows, first, last
    segments: pd.Series  # accounts per segment
    terms: dict[str, int]  # terms, renewed, churned, unresolved
    retention: list[Retention]
    data_end: pd.Timestamp
    outcomes_end: pd.Timestamp  # the last day renewals can be seen (`Sources`)
    warnings: list[str]


def summarize(sources: Sources, grace_days: int = 30) -> SourceSummary:
    rows = []
    for name, frame in sources.tables.items():
        col = TABLES[name].time_column
        span = frame[col] if col else pd.Series(dtype="datetime64[ns, UTC]")
        rows.append({"table": name, "rows": len(frame), "first": span.min(), "last": span.max()})
    terms = term_outcomes(sources.subscriptions, sources.outcomes_known_through, grace_days)
    segment = sources.accounts.set_index("account_id")["segment"].astype("str").fillna("(none)")
    counts = {
        "terms": len(terms),
        "renewed": int(terms["renewed"].sum()),
        "churned": int(terms["churned"].sum()),
        "unresolved": int(terms["renewed"].isna().sum()),
    }
    return SourceSummary(
        tables=pd.DataFrame(rows),
        segments=segment.value_counts().sort_index(),
        terms=counts,
        retention=retention_by_period(terms, segment, sources.outcomes_known_through,
                                      grace_days, covered_from=sources.history_start()),
        data_end=sources.data_end,
        outcomes_end=sources.outcomes_known_through,
        warnings=sources.warnings,
    )


def summarize_partitioned(directory: str | Path, grace_days: int = 30) -> SourceSummary:
    """`summarize` of a partitioned base: terms, segments and retention from every
    bucket's accounts and subscriptions, the tables' rows and spans from the manifest."""
    manifest = read_manifest(directory)
    whole = summarize(load_outcomes(directory, manifest), grace_days)
    tables = pd.DataFrame([{"table": name, "rows": rows, "first": manifest.table_starts.get(
        name, pd.NaT), "last": manifest.table_ends.get(name, pd.NaT)}
        for name, rows in manifest.rows.items()])
    return dataclasses.replace(whole, tables=tables, warnings=list(manifest.warnings))


def retention_by_period(terms: pd.DataFrame, segment: pd.Series, data_end: pd.Timestamp,
                        grace_days: int = 30, covered_from: pd.Timestamp | None = None
                        ) -> list[Retention]:
    """Logo churn, GRR and NRR per covered year, overall and per segment.

    Years count from the first term's start, or from the first day of the month of
    `covered_from` when that is later.
    """
    first = terms["start_date"].min()
    if covered_from is not None:
        month = pd.Timestamp(covered_from).normalize().replace(day=1)
        first = max(first, month)
    out: list[Retention] = []
    for label, begin, end in _periods(first, data_end):
        before = arr_at(terms, begin, grace_days)
        after = arr_at(terms, end, grace_days).reindex(before.index, fill_value=0.0)
        groups = segment.reindex(before.index).fillna("(none)")
        for name, idx in [("all", before.index), *before.groupby(groups).groups.items()]:
            start_arr, end_arr = before.loc[idx], after.loc[idx]
            if start_arr.sum() <= 0:
                continue
            out.append(Retention(
                period=label, segment=str(name), accounts=len(idx),
                logo_churn=float((end_arr <= 0).mean()),
                grr=float(end_arr.clip(upper=start_arr).sum() / start_arr.sum()),
                nrr=float(end_arr.sum() / start_arr.sum()),
            ))
    return out


def _periods(first: pd.Timestamp, data_end: pd.Timestamp) -> list[tuple[str, pd.Timestamp,
                                                                        pd.Timestamp]]:
    horizon = data_end + pd.Timedelta(days=1)
    years = [
        (str(y), pd.Timestamp(f"{y}-01-01", tz="UTC"), pd.Timestamp(f"{y + 1}-01-01", tz="UTC"))
        for y in range(first.year, horizon.year + 1)
    ]
    full = [(label, b, e) for label, b, e in years if b >= first and e <= horizon]
    if full:
        return full
    begin = horizon - pd.DateOffset(years=1)
    return [("last 12 months", begin, horizon)] if begin >= first else []


def render_summary(summary: SourceSummary) -> str:
    """Plain-text report for `churnlens validate`."""
    lines = [f"Data end: {summary.data_end.date()}"]
    if summary.outcomes_end != summary.data_end:
        lines.append(f"Term outcomes known through: {summary.outcomes_end.date()} (the "
                     f"subscriptions' last record)")
    lines += ["", "Tables (first .. last record):"]
    for row in summary.tables.itertuples():
        span = (f"{_day(row.first)} .. {_day(row.last)}" if pd.notna(row.first) else "")
        lines.append(f"  {row.table:<14} {row.rows:>12,} rows  {span}")
    lines += ["", "Accounts by segment:"]
    lines += [f"  {seg:<14} {n:>8,}" for seg, n in summary.segments.items()]
    t = summary.terms
    lines += ["", f"Subscription terms: {t['terms']:,} ({t['renewed']:,} renewed, "
                  f"{t['churned']:,} churned, {t['unresolved']:,} not yet resolved)"]
    if summary.retention:
        lines += ["", "Retention (accounts paying at the period's start):",
                  f"  {'period':<15} {'segment':<12} {'accounts':>8} {'logo churn':>10} "
                  f"{'GRR':>7} {'NRR':>7}"]
        lines += [f"  {r.period:<15} {r.segment:<12} {r.accounts:>8,} {r.logo_churn:>10.1%} "
                  f"{r.grr:>7.1%} {r.nrr:>7.1%}" for r in summary.retention]
    else:
        lines += ["", "Retention: the data covers less than a year; no retention figures."]
    if summary.warnings:
        lines += ["", "Warnings:"] + [f"  - {w}" for w in summary.warnings]
    return "\n".join(lines)


def _day(value: pd.Timestamp) -> str:
    return str(value.date())
