"""How good are the rules? Replay them over the stored runs and count what followed.

`replay` runs the rules engine over stored runs in time order with the alerts kept in
memory, so it fires exactly what live evaluation would have, without touching the live
alerts. `precision` matches each alert with the outcome of the account's term at the run
that first raised it (renewed or churned, as a training label would be; open terms are
left out) and gives, per rule: alerts fired, accounts, the share that churned against the
base rate of every scored account in the same runs (lift), the median days from the
first alert to the renewal, and alerts per CSM per week; a last row counts every account
alert together. Data alerts (stale sources) are left out: they name no account.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import pandas as pd

from serving.alerts.evaluate import STALE_RULE, RunView, Unresolved, evaluate
from serving.alerts.rules import AlertConfig


@dataclass
class Replayed:
    id: int
    rule: str
    account_id: str
    owner: str
    first_run_id: int
    first_as_of: dt.date
    renewal_date: dt.date | None
    resolved_as_of: dt.date | None = None


@dataclass(frozen=True)
class RulePrecision:
    rule: str
    alerts: int
    accounts: int
    resolved: int  # alerts whose term's outcome is known
    churned: int
    churn_rate: float | None
    lift: float | None
    median_lead_days: float | None
    per_csm_week: float


def replay(config: AlertConfig, runs: Sequence[RunView]) -> list[Replayed]:
    """The alerts the rules would have raised over `runs` (oldest first)."""
    fired: dict[int, Replayed] = {}
    unresolved: dict[int, Unresolved] = {}
    last_opened: dict[tuple[str, str], dt.date] = {}
    previous = None
    for run in runs:
        changes = evaluate(config, run, previous, list(unresolved.values()), last_opened)
        for opened in changes.opened:
            rule = opened.rule.name if opened.rule else STALE_RULE
            account = opened.account.account_id if opened.account else ""
            alert_id = len(fired) + 1
            fired[alert_id] = Replayed(alert_id, rule, account, opened.owner, run.id,
                                       run.as_of, opened.account.renewal_date
                                       if opened.account else None)
            unresolved[alert_id] = Unresolved(alert_id, rule, account, 0)
            last_opened[(account, rule)] = run.as_of
        for kept in changes.kept:
            unresolved[kept.id] = replace(unresolved[kept.id], quiet_runs=0)
        for alert_id, quiet in changes.quieted:
            unresolved[alert_id] = replace(unresolved[alert_id], quiet_runs=quiet)
        for alert_id in changes.resolved:
            unresolved.pop(alert_id)
            fired[alert_id].resolved_as_of = run.as_of
        previous = run
    return list(fired.values())


ANY_RULE = "(any rule)"  # the row of every account alert together
Outcomes = Callable[[dt.date, pd.Series], pd.Series]


def precision(config: AlertConfig, runs: Sequence[RunView], fired: Sequence[Replayed],
              outcomes: Outcomes) -> tuple[list[RulePrecision], float | None]:
    """Per rule figures and the base churn rate. `outcomes(as_of, accounts)` gives each
    account's term label at as_of (True churned, False renewed, NA open)."""
    labels: dict[int, Mapping[str, object]] = {}
    scored = churned = 0
    for run in runs:
        accounts = pd.Series(sorted(run.accounts), dtype="str")
        label = outcomes(run.as_of, accounts)
        known = label.dropna()
        scored += len(known)
        churned += int(known.astype(bool).sum())
        labels[run.id] = label.to_dict()
    base = churned / scored if scored else None
    csms = len({a.csm_owner for run in runs for a in run.accounts.values()}) or 1
    weeks = max(1.0, ((runs[-1].as_of - runs[0].as_of).days + 30) / 7) if runs else 1.0
    account_alerts = [a for a in fired if a.rule != STALE_RULE]
    groups = [(r.name, [a for a in account_alerts if a.rule == r.name]) for r in config.rules]
    groups.append((ANY_RULE, account_alerts))
    rows = []
    for rule, mine in groups:
        outcome = [labels.get(a.first_run_id, {}).get(a.account_id) for a in mine]
        known = [bool(o) for o in outcome if o is not None and o is not pd.NA]
        lost = sum(known)
        rate = lost / len(known) if known else None
        leads = [(a.renewal_date - a.first_as_of).days for a in mine
                 if a.renewal_date is not None]
        rows.append(RulePrecision(
            rule, len(mine), len({a.account_id for a in mine}), len(known), lost, rate,
            rate / base if rate is not None and base else None,
            float(statistics.median(leads)) if leads else None, len(mine) / csms / weeks))
    return rows, base


def table_lines(rows: Sequence[RulePrecision], base: float | None,
                runs: Sequence[RunView]) -> list[str]:
    """The backtest as a fixed-width table, one line per rule and one for all of them."""
    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.1%}"

    lines = [f"Backtest over {len(runs)} runs ({runs[0].as_of} to {runs[-1].as_of}); base "
             f"churn rate {pct(base)} of scored accounts whose renewal has resolved.",
             f"{'rule':<22} {'alerts':>6} {'accts':>6} {'known':>6} {'churned':>8} "
             f"{'lift':>5} {'lead d':>7} {'/CSM/wk':>8}"]
    for row in rows:
        lift = "-" if row.lift is None else f"{row.lift:.1f}x"
        lead = "-" if row.median_lead_days is None else f"{row.median_lead_days:.0f}"
        lines.append(f"{row.rule:<22} {row.alerts:>6} {row.accounts:>6} {row.resolved:>6} "
                     f"{pct(row.churn_rate):>8} {lift:>5} {lead:>7} {row.per_csm_week:>8.2f}")
    return lines
