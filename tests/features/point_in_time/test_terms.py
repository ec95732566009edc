"""Term outcomes on hand-built cases: on-time and late renewal, churn, early renewal, censoring."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.point_in_time.terms import arr_at, term_outcomes
from features.sources.contract import renewal_grace_days

END = pd.Timestamp("2024-12-31", tz="UTC")


def _subs(rows: list[tuple[str, str, str, str, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["subscription_id", "account_id", "start_date",
                                        "end_date", "arr"])
    for col in ("start_date", "end_date"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame


CASES = _subs([
    ("on-time", "A", "2023-01-01", "2024-01-01", 100.0),
    ("on-time-next", "A", "2024-01-01", "2025-01-01", 120.0),
    ("late", "B", "2023-01-01", "2024-01-01", 100.0),
    ("late-next", "B", "2024-01-25", "2025-01-25", 80.0),
    ("too-late", "C", "2023-01-01", "2024-01-01", 100.0),
    ("too-late-next", "C", "2024-02-15", "2025-02-15", 100.0),
    ("monthly-1", "D", "2024-05-01", "2024-06-01", 12.0),
    ("monthly-2", "D", "2024-06-01", "2024-07-01", 12.0),
    ("early", "E", "2023-03-01", "2024-03-01", 50.0),
    ("early-next", "E", "2024-02-01", "2025-02-01", 60.0),
    ("censored", "F", "2024-01-01", "2024-12-15", 10.0),
    ("resolved-at-edge", "G", "2023-01-01", "2024-12-01", 10.0),
])


def _outcomes() -> pd.DataFrame:
    return term_outcomes(CASES, END, grace_days=30).set_index("subscription_id")


def test_renewal_outcomes_of_hand_built_terms():
    out = _outcomes()
    assert out.loc["on-time", "renewed"]
    assert out.loc["late", "renewed"]  # 24 days late: within grace
    assert out.loc["too-late", "churned"]  # 45 days late: a new customer, not a renewal
    assert out.loc["monthly-1", "renewed"]
    assert out.loc["monthly-2", "churned"]  # monthly cancellation
    assert out.loc["early", "renewed"]  # renewal signed before the term ended
    assert pd.isna(out.loc["censored", "renewed"])  # 2024-12-15 + 30 days > data end
    assert out.loc["resolved-at-edge", "churned"]  # 2024-12-01 + 30 = 2024-12-31: known


def test_next_arr_and_resolution_time():
    out = _outcomes()
    assert out.loc["late", "next_arr"] == 80.0
    assert out.loc["too-late", "next_arr"] == 0.0
    assert out.loc["late", "resolved_at"] == pd.Timestamp("2024-01-25", tz="UTC")
    assert out.loc["too-late", "resolved_at"] == pd.Timestamp("2024-01-31", tz="UTC")
    assert pd.isna(out.loc["censored", "resolved_at"])


def test_arr_at_counts_grace_for_late_renewals_but_not_for_known_churn():
    terms = term_outcomes(CASES, END, grace_days=30)
    at = arr_at(terms, pd.Timestamp("2024-01-10", tz="UTC"))
    assert at["B"] == 100.0  # in grace, renews later at 80
    assert "C" not in at.index  # known churned: no ARR during grace
    assert at["A"] == 120.0


def test_the_grace_is_a_quarter_of_the_term_between_7_days_and_the_setting():
    assert renewal_grace_days(np.array([30, 31, 90, 365, 730]), 30).tolist() == [
        7, 7, 22, 30, 30]
    assert renewal_grace_days(np.array([30, 365]), 10).tolist() == [7, 10]
    assert renewal_grace_days(np.array([30, 365]), 0).tolist() == [0, 0]


def test_a_monthly_term_renewed_ten_days_late_churned_and_came_back():
    """Thirty days of grace would be a whole billing period on a monthly plan."""
    cases = _subs([
        ("m1", "M", "2024-03-01", "2024-04-01", 12.0),
        ("m2", "M", "2024-04-06", "2024-05-06", 12.0),   # 5 days late: a renewal
        ("m3", "M", "2024-05-16", "2024-06-16", 12.0),   # 10 days late: churn, then back
    ])
    out = term_outcomes(cases, END, grace_days=30).set_index("subscription_id")
    assert out.loc["m1", "renewed"] and out.loc["m2", "churned"]
    assert out.loc["m2", "resolved_at"] == pd.Timestamp("2024-05-13", tz="UTC")  # end + 7
