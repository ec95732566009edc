"""How live alerts turned out: the renewals they warned of, and what CSMs recorded.

The backtest replays rules over stored runs; this reads the alerts that really fired.
An alert's renewal counts once a stored run knows its outcome (`quarter_renewals`, the
run's quarter's renewals as known at its as_of; the newest run's word holds), and the
base rate is the churned share of every renewal the runs saw resolve (of the reader's
book, for a book key). Beside it, per rule, how its resolved alerts ended as CSMs
recorded them.

Every run stores its whole quarter's renewals, so a year of daily runs holds each one
many times: the database picks the newest word per renewal, and the result is kept per
store and book until a run is stored or pruned, so a page view between runs reads only
the alerts (`bench/inbox.py`).
"""

from __future__ import annotations

import datetime as dt
import threading
import weakref
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
    with store._reading() as conn:
        known = _known_renewals(store, conn, scope)
        raised = conn.execute(sa.select(_A.rule, _A.account_id, _A.renewal_date, _A.state,
                                        _A.outcome).where(_A.account_id != "", *mine)).all()
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


Known = dict[tuple[str, dt.date], bool]
# Per store and scope: the stored runs' (newest id, count) and the renewals read then.
# Renewals change only when a run is stored or pruned, so page views in between reuse them.
_CACHE: weakref.WeakKeyDictionary[ScoreStore, dict[frozenset[str] | None,
                                                   tuple[tuple[int, int], Known]]] = (
    weakref.WeakKeyDictionary())
_CACHE_LOCK = threading.Lock()


def _known_renewals(store: ScoreStore, conn: sa.Connection, scope: frozenset[str] | None
                    ) -> Known:
    """{(account, renewal date): churned} of every renewal a stored run saw resolve."""
    runs = conn.execute(sa.select(sa.func.coalesce(sa.func.max(scoring_runs.c.id), 0),
                                  sa.func.count())).one()
    marker = (int(runs[0]), int(runs[1]))
    with _CACHE_LOCK:
        cached = _CACHE.get(store, {}).get(scope)
    if cached is not None and cached[0] == marker:
        return cached[1]
    # The newest run's word per renewal: by as_of, not by when the run was stored.
    theirs = [] if scope is None else [_Q.csm_owner.in_(sorted(scope))]
    newest = sa.func.row_number().over(
        partition_by=(_Q.account_id, _Q.renewal_date),
        order_by=(scoring_runs.c.as_of.desc(), _Q.run_id.desc())).label("newest")
    ranked = (sa.select(_Q.account_id, _Q.renewal_date, _Q.outcome, newest)
              .select_from(quarter_renewals.join(scoring_runs, scoring_runs.c.id == _Q.run_id))
              .where(_Q.outcome != "open", *theirs).subquery())
    rows = conn.execute(sa.select(ranked.c.account_id, ranked.c.renewal_date, ranked.c.outcome)
                        .where(ranked.c.newest == 1)).all()
    known = {(str(account), day): outcome == "churned" for account, day, outcome in rows}
    with _CACHE_LOCK:
        _CACHE.setdefault(store, {})[scope] = (marker, known)
    return known
