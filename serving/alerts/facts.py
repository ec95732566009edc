"""The facts alert rules test, one set per account per scoring run.

A rule reads named facts, never raw features: the facts are declared here once, with
their unit, so a rule file is checked against them and a CSM reads "urgent tickets open
longer than 14 days", not a column name. Facts come from what the run already computed
(the score, the scoring frame, the evidence behind the reasons) and are stored with the
run (`account_facts`), so `churnlens alerts evaluate` and the backtest replay any stored
run without reading the sources again. `risk`, `band` and `risk_change` come from the
stored scores themselves; `risk_change` (points since the previous run) is worked out when
the run is evaluated against its predecessor.

A fact the run could not know (no user ids, no NPS answer yet) is missing, and a condition
on a missing fact does not hold.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from features.point_in_time.evidence import AccountEvidence
from features.sources.contract import TABLES
from features.sources.loading import Sources

BAND_ORDER = ("low", "medium", "high")
URGENT_AGE_DAYS = 14
MONTH_WEEKS = 4


@dataclass(frozen=True)
class Fact:
    name: str
    meaning: str
    unit: str = ""
    ordered: tuple[str, ...] = ()  # for text facts compared by rank (the band)
    score_based: bool = False  # moves when the model changes, not only when the account does


FACTS: dict[str, Fact] = {f.name: f for f in (
    Fact("risk", "calibrated chance of not renewing", "points (0-100)", score_based=True),
    Fact("band", "risk band", "", BAND_ORDER, score_based=True),
    Fact("risk_change", "risk change since the previous run", "points", score_based=True),
    Fact("days_to_renewal", "days from the run's as_of to the renewal date", "days"),
    Fact("active_users_change", "weekly active users, the last 4 weeks against the 4 before",
         "percent"),
    Fact("active_users_before", "weekly active users, mean of the 4 weeks before the last 4",
         "users"),
    Fact("urgent_tickets_aging", f"urgent tickets open longer than {URGENT_AGE_DAYS} days",
         "tickets"),
    Fact("open_tickets", "tickets open at as_of", "tickets"),
    Fact("nps", "the latest NPS answer", "0-10"),
    Fact("days_since_nps", "days since the latest NPS answer", "days"),
    Fact("busiest_user_days_inactive",
         "days since the busiest user of the last 90 days was last active", "days"),
    Fact("busiest_user_share", "the busiest user's share of the last 90 days' sessions",
         "percent"),
    Fact("arr", "annual recurring revenue", "currency"),
)}

# Facts read from the scoring frame's features, by the feature that carries them.
FRAME_FEATURES = {"busiest_user_days_inactive": "busiest_user_days_since_active",
                  "busiest_user_share": "busiest_user_share_90d"}
STALE_CHECKED = ("usage_events", "tickets", "surveys", "csm_notes")


def run_facts(frame: pd.DataFrame, evidence: Mapping[str, AccountEvidence], as_of: dt.date
              ) -> dict[str, dict[str, Any]]:
    """The stored facts of every account in a scoring frame, by account id."""
    ids = frame["account_id"].astype(str).tolist()
    renewal = pd.to_datetime(frame["term_end"]).dt.date.tolist() if "term_end" in frame \
        else [None] * len(ids)
    arr = frame["arr"].astype("float64").tolist() if "arr" in frame else [None] * len(ids)
    columns = {fact: (frame[feature].astype("float64").tolist() if feature in frame
                      else [None] * len(ids))
               for fact, feature in FRAME_FEATURES.items()}
    out = {}
    for i, account in enumerate(ids):
        facts: dict[str, Any] = {
            "days_to_renewal": _days_between(as_of, renewal[i]),
            "arr": _number(arr[i]),
            "busiest_user_days_inactive": _number(columns["busiest_user_days_inactive"][i]),
            "busiest_user_share": _percent(columns["busiest_user_share"][i]),
        }
        found = evidence.get(account)
        if found is not None:
            facts |= evidence_facts(found)
        out[account] = {k: v for k, v in facts.items() if v is not None}
    return out


def last_records(sources: Sources, as_of: dt.date) -> dict[str, str | None]:
    """Each dated source table's last record day strictly before `as_of` (None: none
    before it), so a stale export shows as such at the run that read it."""
    moment = pd.Timestamp(as_of, tz="UTC")
    out: dict[str, str | None] = {}
    for name in STALE_CHECKED:
        frame = sources.get(name)
        column = TABLES[name].time_column
        if frame is None or column is None or column not in frame:
            continue
        times = frame[column]
        before = times[(times < moment).to_numpy()]
        out[name] = None if before.empty else before.max().date().isoformat()
    return out


def evidence_facts(evidence: AccountEvidence) -> dict[str, Any]:
    """The facts an account's evidence gives: tickets, the latest NPS, active users."""
    urgent = sum(1 for t in evidence.open_tickets
                 if t.priority == "urgent" and t.age_days > URGENT_AGE_DAYS)
    before, change = _users_change(evidence)
    facts: dict[str, Any] = {"urgent_tickets_aging": urgent,
                             "open_tickets": evidence.open_ticket_count,
                             "active_users_before": before, "active_users_change": change}
    if evidence.last_nps is not None:
        facts["nps"] = evidence.last_nps.score
        facts["days_since_nps"] = (evidence.as_of - evidence.last_nps.responded_at).days
    return facts


def _users_change(evidence: AccountEvidence) -> tuple[float | None, float | None]:
    """Weekly active users of the 4 weeks before the last 4, and the change since."""
    weeks = [w.active_users for w in evidence.usage][-2 * MONTH_WEEKS:]
    users = [u for u in weeks if u is not None]
    if len(users) < 2 * MONTH_WEEKS:
        return None, None
    recent = float(np.mean(users[MONTH_WEEKS:]))
    before = float(np.mean(users[:MONTH_WEEKS]))
    if before <= 0:
        return round(before, 1), None
    return round(before, 1), round(100.0 * (recent - before) / before, 1)


def _days_between(start: dt.date, end: object) -> int | None:
    if not isinstance(end, dt.date) or pd.isna(end):
        return None
    return (end - start).days


def _number(value: object) -> float | None:
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    return None if math.isnan(number) else number


def _percent(value: object) -> float | None:
    number = _number(value)
    return None if number is None else round(100.0 * number, 1)
