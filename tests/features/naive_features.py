"""A naive oracle: the spine and every feature, row by row, in plain Python loops.

Written straight from the definitions in PRODUCT.md and the catalog, with timestamps
compared as timestamps (no day numbers, codes, sorting tricks or window helper), so it
shares no code or idea with the vectorised implementation it checks.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Iterable
from typing import Any

import pandas as pd

from features.point_in_time.note_topics import NOTE_TOPICS
from features.sources.loading import Sources

DAY = pd.Timedelta(days=1)
NAN = math.nan
LOGIN, MINUTES = "login", "session_minutes"


def _records(frame: pd.DataFrame | None) -> list[dict[str, Any]]:
    if frame is None:
        return []
    return [{k: (None if _missing(v) else v) for k, v in row.items()}
            for row in frame.to_dict("records")]


def _missing(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _key(event_type: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", event_type.lower()).strip("_")


def _in(t: pd.Timestamp, as_of: pd.Timestamp, days: int) -> bool:
    return as_of - days * DAY <= t < as_of


def naive_spine(sources: Sources, dates: Iterable[pd.Timestamp], grace: int = 30
                ) -> list[dict[str, Any]]:
    terms = _records(sources.subscriptions)
    horizon = sources.data_end + DAY
    rows = []
    for as_of in sorted(set(dates)):
        for account in sorted({t["account_id"] for t in terms}):
            active = [t for t in terms if t["account_id"] == account
                      and t["start_date"] <= as_of < t["end_date"]]
            if not active:
                continue
            term = max(active, key=lambda t: (t["start_date"], t["subscription_id"]))
            later = [t["start_date"] for t in terms if t["account_id"] == account
                     and t["start_date"] > term["start_date"]]
            # The grace is a quarter of the term, 7 days at least, `grace` at most.
            length = (term["end_date"] - term["start_date"]).days
            deadline = term["end_date"] + min(grace, max(min(7, grace), length // 4)) * DAY
            renewal = min(later) if later and min(later) <= deadline else None
            if deadline <= horizon:  # settled: the grace period is over, renewed or not
                churned, resolved = renewal is None, deadline
            else:
                churned, resolved = None, None
            rows.append({"account_id": account, "as_of": as_of, "term": term,
                         "churned": churned, "label_resolved_at": resolved})
    return rows


def _ratio(before: float, after: float) -> tuple[float, float]:
    if before > 0:
        return after / before, 100 * (after - before) / before
    return (1.0, 0.0) if after == 0 else (NAN, NAN)


def naive_usage(events: list[dict[str, Any]], as_of: pd.Timestamp, seats: float | None,
                keys: list[str]) -> dict[str, float]:
    done = [e for e in events if e["quantity"] is not None and e["quantity"] > 0
            and e["timestamp"] < as_of]
    out: dict[str, float] = {}

    def volume(kind: str, start: int, days: int) -> float:
        total = 0.0
        for e in done:
            typ = e["event_type"]
            is_kind = (typ == kind if kind in (LOGIN, MINUTES)
                       else typ not in (LOGIN, MINUTES) if kind == "product"
                       else typ not in (LOGIN, MINUTES) and _key(typ) == kind)
            if is_kind and _in(e["timestamp"], as_of - start * DAY, days):
                total += e["quantity"]
        return total

    def since(kind: str) -> float:
        times = [e["timestamp"] for e in done
                 if (e["event_type"] == kind if kind == LOGIN
                     else e["event_type"] not in (LOGIN, MINUTES)
                     and _key(e["event_type"]) == kind)]
        return (as_of - max(times).floor("D")) / DAY if times else NAN

    def users(start: int, days: int = 28) -> int:
        return len({e["user_id"] for e in done if e["event_type"] == LOGIN and e["user_id"]
                    is not None and _in(e["timestamp"], as_of - start * DAY, days)})

    for name, kind in (("logins", LOGIN), ("session_minutes", MINUTES),
                       ("product_events", "product")):
        for days in (7, 28, 90):
            out[f"{name}_{days}d"] = volume(kind, 0, days)
        out[f"{name}_prev_28d"] = volume(kind, 28, 28)
        out[f"{name}_trend_ratio"], out[f"{name}_trend_pct"] = _ratio(
            out[f"{name}_prev_28d"], out[f"{name}_28d"])
    for key in keys:
        for days in (7, 28, 90):
            out[f"{key}_uses_{days}d"] = volume(key, 0, days)
        out[f"days_since_{key}_use"] = since(key)
        quarter = out[f"{key}_uses_90d"]
        out[f"{key}_pace_28d_vs_90d"] = (
            out[f"{key}_uses_28d"] / 28 / (quarter / 90) if quarter else NAN)
    out["days_since_last_login"] = since(LOGIN)
    out["active_days_28d"] = len({e["timestamp"].floor("D") for e in done
                                  if _in(e["timestamp"], as_of, 28)})
    now, before = users(0), users(28)
    out["active_users_28d"], out["active_users_prev_28d"] = now, before
    out["active_users_trend_ratio"], out["active_users_trend_pct"] = _ratio(before, now)
    out["license_utilisation_28d"] = now / seats if seats else NAN
    out["active_users_90d"] = users(0, 90)
    out["license_utilisation_90d"] = out["active_users_90d"] / seats if seats else NAN
    out["minutes_per_active_user_28d"] = out["session_minutes_28d"] / now if now else NAN
    busiest = _busiest_user([e for e in done if e["event_type"] == LOGIN
                             and e["user_id"] is not None and _in(e["timestamp"], as_of, 90)])
    out["busiest_user_days_since_active"] = (
        (as_of - busiest[1]) / DAY if busiest else NAN)
    out["busiest_user_share_90d"] = busiest[0] if busiest else NAN
    for days in (28, 90):
        out[f"adoption_breadth_{days}d"] = len({
            _key(e["event_type"]) for e in done if e["event_type"] not in (LOGIN, MINUTES)
            and _key(e["event_type"]) in keys and _in(e["timestamp"], as_of, days)})
    return out


def _busiest_user(logins: list[dict[str, Any]]) -> tuple[float, pd.Timestamp] | None:
    """(share of sessions, last active day) of the user with the most sessions; ties go
    to the one active last."""
    sessions: dict[str, float] = {}
    last: dict[str, pd.Timestamp] = {}
    for e in logins:
        user, day = e["user_id"], e["timestamp"].floor("D")
        sessions[user] = sessions.get(user, 0.0) + e["quantity"]
        last[user] = max(last.get(user, day), day)
    if not sessions:
        return None
    top = max(sessions, key=lambda u: (sessions[u], last[u]))
    return sessions[top] / sum(sessions.values()), last[top]


def naive_support(tickets: list[dict[str, Any]], as_of: pd.Timestamp) -> dict[str, float]:
    def is_open(t: dict[str, Any]) -> bool:
        return t["opened_at"] < as_of and (t["closed_at"] is None or t["closed_at"] >= as_of)

    open_now = [t for t in tickets if is_open(t)]
    closed = [t for t in tickets if t["closed_at"] is not None]
    resolved = [(t["closed_at"] - t["opened_at"]) / pd.Timedelta(hours=1) for t in closed
                if _in(t["closed_at"], as_of, 90)]
    rated = [t["csat"] for t in closed if _in(t["closed_at"], as_of, 180)
             and t["csat"] is not None]
    month = sum(_in(t["opened_at"], as_of, 30) for t in tickets)
    year = sum(_in(t["opened_at"], as_of, 365) for t in tickets)
    return {
        "tickets_opened_30d": month,
        "tickets_opened_90d": sum(_in(t["opened_at"], as_of, 90) for t in tickets),
        "tickets_opened_365d": year,
        "ticket_surge_ratio": month / 30 / (year / 365) if year else NAN,
        "open_tickets": len(open_now),
        "oldest_open_ticket_days": max(((as_of - t["opened_at"]) / DAY for t in open_now),
                                       default=NAN),
        "open_high_urgent_tickets": sum(t["priority"] in ("high", "urgent") for t in open_now),
        "escalations_90d": sum(bool(t["escalated"]) and _in(t["opened_at"], as_of, 90)
                               for t in tickets),
        "median_resolution_hours_90d": statistics.median(resolved) if resolved else NAN,
        "ticket_csat_mean_180d": statistics.mean(rated) if rated else NAN,
    }


def naive_surveys(surveys: list[dict[str, Any]], as_of: pd.Timestamp) -> dict[str, Any]:
    nps = sorted((s["responded_at"], s["score"]) for s in surveys
                  if s["kind"] == "nps" and s["responded_at"] < as_of)
    csat = [s["score"] for s in surveys if s["kind"] == "csat"
            and _in(s["responded_at"], as_of, 180)]
    latest = nps[-1][1] if nps else NAN
    category = (None if not nps else "detractor" if latest <= 6
                else "passive" if latest <= 8 else "promoter")
    return {
        "nps_latest": latest,
        "nps_category": category,
        "days_since_nps": (as_of - nps[-1][0]) / DAY if nps else NAN,
        "nps_change": nps[-1][1] - nps[-2][1] if len(nps) > 1 else NAN,
        "csat_survey_mean_180d": statistics.mean(csat) if csat else NAN,
        "survey_responses_365d": sum(_in(s["responded_at"], as_of, 365) for s in surveys),
    }


def naive_notes(notes: list[dict[str, Any]], as_of: pd.Timestamp) -> dict[str, Any]:
    level = {"red": 0, "yellow": 1, "green": 2}
    seen = sorted((n["noted_at"], level[n["sentiment"]], n["sentiment"]) for n in notes
                  if n["noted_at"] < as_of)
    year = [level for t, level, _ in seen if _in(t, as_of, 365)]
    out = {
        "csm_sentiment_latest": seen[-1][2] if seen else None,
        "csm_sentiment_change": seen[-1][1] - seen[-2][1] if len(seen) > 1 else NAN,
        "days_since_csm_note": (as_of - seen[-1][0]) / DAY if seen else NAN,
        "csm_sentiment_mean_365d": sum(year) / len(year) if year else NAN,
    }
    for topic, phrases in NOTE_TOPICS.items():
        about = [n["noted_at"] for n in notes if n["noted_at"] < as_of
                 and isinstance(n.get("text"), str)
                 and any(p.lower() in n["text"].lower() for p in phrases)]
        out[f"days_since_{topic}_note"] = (as_of - max(about)) / DAY if about else NAN
    return out


def naive_contract(terms: list[dict[str, Any]], account: dict[str, Any],
                   term: dict[str, Any], as_of: pd.Timestamp) -> dict[str, Any]:
    mine = [t for t in terms if t["account_id"] == term["account_id"]]
    earlier = [t for t in mine if t["start_date"] < term["start_date"]]
    previous = max(earlier, key=lambda t: t["start_date"]) if earlier else None
    return {
        "tenure_days": (as_of - min(t["start_date"] for t in mine)) / DAY,
        "days_to_renewal": (term["end_date"] - as_of) / DAY,
        "term_length_days": (term["end_date"] - term["start_date"]) / DAY,
        "arr": term["arr"],
        "seats": NAN if term["seats"] is None else float(term["seats"]),
        "arr_change_ratio": (term["arr"] / previous["arr"] if previous and previous["arr"] > 0
                             else NAN),
        "seat_change_ratio": (
            float(term["seats"]) / previous["seats"]
            if previous and previous["seats"] and term["seats"] is not None else NAN),
        "renewals_so_far": len(earlier),
        "auto_renew": NAN if term["auto_renew"] is None else float(term["auto_renew"]),
        "plan": term["plan"],
        "segment": account["segment"],
        "industry": account["industry"],
        "region": account["region"],
    }


def naive_stage(row: dict[str, Any], tickets: list[dict[str, Any]]) -> str:
    as_of = row["as_of"]
    alarm = any(t["opened_at"] < as_of and (t["closed_at"] is None or t["closed_at"] >= as_of)
                and (t["priority"] == "urgent" or t["escalated"]) for t in tickets)
    if alarm or row.get("csm_sentiment_latest") == "red":
        return "escalation"
    if row["tenure_days"] < 90:
        return "onboarding"
    if row["days_to_renewal"] <= 90:
        return "renewal"
    return "adoption"


def naive_frame(sources: Sources, dates: Iterable[pd.Timestamp], keys: list[str]
                ) -> list[dict[str, Any]]:
    """Every spine row with every feature, by brute force."""
    tables = {name: _records(sources.get(name)) for name in sources.tables}
    accounts = {a["account_id"]: a for a in tables["accounts"]}
    out = []
    for snap in naive_spine(sources, dates):
        account, as_of, term = snap["account_id"], snap["as_of"], snap["term"]
        of = {name: [r for r in rows if r.get("account_id") == account]
              for name, rows in tables.items()}
        row: dict[str, Any] = {
            "account_id": account, "as_of": as_of,
            "subscription_id": term["subscription_id"], "term_end": term["end_date"],
            "label_resolved_at": snap["label_resolved_at"], "churned": snap["churned"],
        }
        if "usage_events" in tables:
            row |= naive_usage(of["usage_events"], as_of, term["seats"], keys)
        if "tickets" in tables:
            row |= naive_support(of["tickets"], as_of)
        if "surveys" in tables:
            row |= naive_surveys(of["surveys"], as_of)
        if "csm_notes" in tables:
            row |= naive_notes(of["csm_notes"], as_of)
        row |= naive_contract(tables["subscriptions"], accounts[account], term, as_of)
        row["lifecycle_stage"] = naive_stage(row, of.get("tickets", []))
        out.append(row)
    return out
