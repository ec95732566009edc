"""How live alerts turned out: the renewals they warned of, and what CSMs recorded.

The backtest replays rules over stored runs; this reads the alerts that really fired.
An alert's renewal counts once a stored run knows its outcome (`quarter_renewals`, the
run's quarter's renewals as known at its as_of; the newest run's word holds), and the
base rate is the churned share of every renewal the runs saw resolve (of the reader's
book, for a book key). Beside it, per rule, how its resolved alerts ended as CSMs
recorded them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlalchemy as sa

from serving.store.schema import alerts, quarter_renewals, scoring_runs
from serving.store.score_store import ScoreStore

_A, _Q = alerts.c, quarter_renewals.c


@dataclass(frozen=True)
class RuleRecord:
    rule: str
    alerts: int  # alerts raised, data alerts aside
    renewals_known: int  # of them, alerts whose renewal's outcome a run knows
    churned: int
    churn_rate: float | None
    lift: float | None
    outcomes: dict[str, int] = field(default_factory=dict)  # resolved alerts by outcome


def track_record(store: ScoreStore, scope: frozenset[str] | None = None
                 ) -> tuple[list[RuleRecord], float | None]:
    """Per rule (alerts within `scope`'s CSMs, if given) and the base churn rate."""
    mine = [] if scope is None else [_A.csm_owner.in_(sorted(scope))]
    theirs = [] if scope is None else [_Q.csm_owner.in_(sorted(scope))]
    with store._reading() as conn:
        renewals = conn.execute(  # oldest first: a run's as_of, not when it was stored
            sa.select(_Q.account_id, _Q.renewal_date, _Q.outcome)
            .select_from(quarter_renewals.join(scoring_runs, scoring_runs.c.id == _Q.run_id))
            .where(_Q.outcome != "open", *theirs)
            .order_by(scoring_runs.c.as_of, _Q.run_id)).all()
        raised = conn.execute(sa.select(_A.rule, _A.account_id, _A.renewal_date, _A.state,
                                        _A.outcome).where(_A.account_id != "", *mine)).all()
    known: dict[tuple[str, dt.date], bool] = {}
    for account, day, outcome in renewals:
        known[(str(account), day)] = outcome == "churned"  # the newest run's word holds
    base = sum(known.values()) / len(known) if known else None
    by_rule: dict[str, list[sa.Row]] = {}
    for row in raised:
        by_rule.setdefault(str(row.rule), []).append(row)
    out = []
    for rule, rows in sorted(by_rule.items()):
        labels = [known[key] for r in rows
                  if (key := (str(r.account_id), r.renewal_date)) in known]
        churned = sum(labels)
        rate = churned / len(labels) if labels else None
        recorded: dict[str, int] = {}
        for r in rows:
            if r.state == "resolved" and r.outcome:
                recorded[str(r.outcome)] = recorded.get(str(r.outcome), 0) + 1
        out.append(RuleRecord(rule, len(rows), len(labels), churned, rate,
                              rate / base if rate is not None and base else None, recorded))
    return out, base
