"""This quarter's renewals and their outcomes as known at as_of (for the CSM page)."""

from __future__ import annotations

import pandas as pd

from features.point_in_time.terms import quarter_of, quarter_renewals


def _ts(day: str) -> pd.Timestamp:
    return pd.Timestamp(day, tz="UTC")


def test_quarter_is_the_one_holding_the_day_before_as_of() -> None:
    assert quarter_of(_ts("2026-01-01")) == (_ts("2025-10-01"), _ts("2026-01-01"))
    assert quarter_of(_ts("2025-11-15")) == (_ts("2025-10-01"), _ts("2026-01-01"))
    assert quarter_of(_ts("2025-04-02")) == (_ts("2025-04-01"), _ts("2025-07-01"))


def _subscriptions(rows: list[tuple[str, str, str, str, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["subscription_id", "account_id", "start_date",
                                        "end_date", "arr"])
    for column in ("start_date", "end_date"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def test_outcomes_as_known_at_as_of() -> None:
    subscriptions = _subscriptions([
        ("R1", "renews", "2024-10-05", "2025-10-05", 100.0),
        ("R2", "renews", "2025-10-20", "2026-10-20", 120.0),   # late, within 30 days
        ("C1", "churns", "2024-10-01", "2025-10-01", 50.0),    # grace ended 10-31
        ("G1", "in_grace", "2024-12-15", "2025-12-15", 70.0),  # grace runs into January
        ("L1", "later", "2025-01-01", "2026-02-01", 30.0),     # due next quarter
        ("E1", "earlier", "2024-01-01", "2025-09-30", 10.0),   # due last quarter
        ("F1", "future", "2025-10-10", "2025-12-20", 40.0),    # 71 days: 17 days of grace
        ("F2", "future", "2026-01-05", "2027-01-05", 40.0),    # starts after as_of: unknown
    ])
    found = quarter_renewals(subscriptions, _ts("2026-01-01"), grace_days=30)
    outcome = dict(zip(found["account_id"], found["outcome"], strict=True))
    assert outcome == {"renews": "renewed", "churns": "churned", "in_grace": "open",
                       "future": "open"}
    assert dict(zip(found["account_id"], found["arr"], strict=True))["renews"] == 100.0


def test_monthly_terms_count_once_with_the_latest_term() -> None:
    subscriptions = _subscriptions([
        ("M1", "monthly", "2025-09-15", "2025-10-15", 12.0),
        ("M2", "monthly", "2025-10-15", "2025-11-15", 12.0),
        ("M3", "monthly", "2025-11-15", "2025-12-15", 24.0),
        ("M4", "monthly", "2025-12-15", "2026-01-15", 24.0),
    ])
    found = quarter_renewals(subscriptions, _ts("2026-01-01"), grace_days=30)
    assert found[["subscription_id", "outcome", "arr"]].values.tolist() == [
        ["M3", "renewed", 24.0]]
    # On 1 November, M3 has not started: M2 (due 11-15) is the quarter's open renewal.
    earlier = quarter_renewals(subscriptions, _ts("2025-11-01"), grace_days=30)
    assert earlier[["subscription_id", "outcome"]].values.tolist() == [["M2", "open"]]


def test_outcomes_after_the_subscriptions_last_record_stay_open() -> None:
    """Subscriptions exported on 31 October: a term due in November cannot have been seen
    renewed, so it is open, not churned."""
    subscriptions = _subscriptions([
        ("N1", "november", "2024-11-10", "2025-11-10", 80.0),  # renewal not in the export
    ])
    known = quarter_renewals(subscriptions, _ts("2026-01-01"), grace_days=30,
                             known_through=_ts("2025-10-31"))
    assert dict(zip(known["account_id"], known["outcome"], strict=True)) == {
        "november": "open"}
    everything = quarter_renewals(subscriptions, _ts("2026-01-01"), grace_days=30)
    assert dict(zip(everything["account_id"], everything["outcome"], strict=True)) == {
        "november": "churned"}, "without the export's end the missed renewal is churn"
