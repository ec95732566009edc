"""Which alerts a scoring run opens, keeps, quiets and resolves: the rules engine.

Pure: it reads one run's accounts and the run before it, the alerts not yet resolved and
when each (account, rule) last fired, and returns the changes; the store applies them in
one transaction (`serving.store.alerts`) and the backtest applies them to a dict, so both
follow exactly the same rules.

- A rule *fires* when it holds in this run and did not in the previous one (an account
  new to the runs counts as not holding before), no alert of that rule is unresolved for
  the account, and the last one opened at least `cooldown_days` before this run's as_of.
- While it holds, the unresolved alert is *updated* (its score, change and signals).
- A run in which it does not hold counts toward resolving: after `resolve_after_runs` in a
  row the alert is *resolved* with the outcome "cleared". An account no longer scored
  counts as not holding.
- A run by another model version than the previous run opens no alert of a rule that
  tests the score: re-scoring everyone with a new champion is not news about accounts.
- A run with a stale source table opens one data alert and changes no account alert.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from serving.alerts.rules import AlertConfig, Rule
from serving.store.rows import by_signal

STALE_RULE = "stale_source"
CLEARED = "cleared"
MOVED_SIGNALS = 3


@dataclass(frozen=True)
class AccountRun:
    """One account as a run saw it: the stored score, its drivers and its facts."""

    account_id: str
    name: str
    csm_owner: str
    probability: float
    band: str
    renewal_date: dt.date | None
    drivers: Mapping[str, float]
    facts: Mapping[str, Any]


@dataclass(frozen=True)
class RunView:
    id: int
    as_of: dt.date
    model_version: str
    accounts: Mapping[str, AccountRun]
    last_records: Mapping[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Unresolved:
    """What the engine needs of an alert that is not resolved yet."""

    id: int
    rule: str
    account_id: str
    quiet_runs: int


@dataclass(frozen=True)
class Opened:
    rule: Rule | None  # None for the data alert
    account: AccountRun | None
    title: str
    severity: str
    owner: str
    risk_change: float | None
    signals: list[dict[str, Any]]
    facts: dict[str, Any]


@dataclass(frozen=True)
class Kept:
    id: int
    account: AccountRun | None
    risk_change: float | None
    signals: list[dict[str, Any]]
    facts: dict[str, Any]


@dataclass
class Changes:
    opened: list[Opened] = field(default_factory=list)
    kept: list[Kept] = field(default_factory=list)
    quieted: list[tuple[int, int]] = field(default_factory=list)  # (id, quiet runs)
    resolved: list[int] = field(default_factory=list)
    suppressed: list[str] = field(default_factory=list)  # why alerts were held back

    def count(self) -> dict[str, int]:
        return {"opened": len(self.opened), "kept": len(self.kept),
                "quieted": len(self.quieted), "resolved": len(self.resolved)}


def evaluate(config: AlertConfig, run: RunView, previous: RunView | None,
             unresolved: Sequence[Unresolved], last_opened: Mapping[tuple[str, str], dt.date]
             ) -> Changes:
    """The changes `run` makes to the alerts (see the module docstring)."""
    changes = Changes()
    pending = {(a.account_id, a.rule): a for a in unresolved}
    stale = stale_tables(config, run)
    data_alert = pending.pop(("", STALE_RULE), None)
    if stale:
        which: dict[str, Any] = {"stale_tables": stale}
        if data_alert is None:
            changes.opened.append(Opened(None, None, _stale_title(stale), "critical",
                                         config.data_owner, None, [], which))
        else:
            changes.kept.append(Kept(data_alert.id, None, None, [], which))
        changes.suppressed.append(f"stale source data ({', '.join(stale)}): no account "
                                  f"alert was raised or resolved")
        return changes
    if data_alert is not None:
        changes.resolved.append(data_alert.id)
    new_model = previous is not None and previous.model_version != run.model_version
    if new_model:
        changes.suppressed.append(f"model {previous.model_version if previous else ''} -> "
                                  f"{run.model_version}: rules on the score opened no alert")
    for rule in config.rules:
        for account in run.accounts.values():
            before = previous.accounts.get(account.account_id) if previous else None
            facts = facts_of(account, before, new_model)
            alert = pending.pop((account.account_id, rule.name), None)
            if not rule.holds(facts):
                if alert is not None:
                    _quiet(changes, alert, rule)
                continue
            tested = {name: facts.get(name) for name in rule.when}
            moved = moved_signals(account, before)
            change = facts.get("risk_change")
            if alert is not None:
                changes.kept.append(Kept(alert.id, account, change, moved, tested))
                continue
            if new_model and rule.score_based:
                continue
            if before is not None and rule.holds(facts_of(before, None, False)):
                continue  # it held already: not a start
            last = last_opened.get((account.account_id, rule.name))
            if last is not None and (run.as_of - last).days < rule.cooldown_days:
                continue
            changes.opened.append(Opened(rule, account, rule.title, rule.severity,
                                         rule.owner_of(account.csm_owner), change, moved,
                                         tested))
    for alert in pending.values():  # accounts this run no longer scores, retired rules
        _quiet(changes, alert, config.rule(alert.rule))
    return changes


def facts_of(account: AccountRun, before: AccountRun | None, new_model: bool
             ) -> dict[str, Any]:
    """Every fact of an account in a run: stored ones, the score's, and the change since
    the previous run (unknown across a model change, and for an account new to the runs)."""
    change = None
    if before is not None and not new_model:
        change = round(100.0 * (account.probability - before.probability), 1)
    return {**account.facts, "risk": round(100.0 * account.probability, 1),
            "band": account.band, "risk_change": change}


def moved_signals(account: AccountRun, before: AccountRun | None) -> list[dict[str, Any]]:
    """The signals whose push on the risk changed most since the previous run."""
    if before is None:
        return []
    now, then = by_signal(account.drivers), by_signal(before.drivers)
    changes = {k: now.get(k, 0.0) - then.get(k, 0.0) for k in now.keys() | then.keys()}
    ranked = sorted((k for k in changes if changes[k] != 0),
                    key=lambda k: (-abs(changes[k]), k))[:MOVED_SIGNALS]
    return [{"signal": k, "change": round(changes[k], 3)} for k in ranked]


def stale_tables(config: AlertConfig, run: RunView) -> list[str]:
    """The source tables whose last record is older than the config allows at as_of."""
    out = []
    for table, days in config.stale_after_days.items():
        if table not in run.last_records:
            continue  # the source has no such table (or the run predates alerts)
        last = run.last_records[table]
        if last is None or (run.as_of - dt.date.fromisoformat(last)).days > days:
            out.append(table)
    return out


def _quiet(changes: Changes, alert: Unresolved, rule: Rule | None) -> None:
    quiet = alert.quiet_runs + 1
    if rule is None or quiet >= rule.resolve_after_runs:
        changes.resolved.append(alert.id)
    else:
        changes.quieted.append((alert.id, quiet))


def _stale_title(stale: list[str]) -> str:
    return f"Source data is stale: {', '.join(stale)}; account alerts are held back"
