"""Signup-cohort retention: lifetimes and Kaplan-Meier curves against hand arithmetic."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.analysis.cohorts import account_lifetimes, kaplan_meier, signup_cohort_retention
from features.sources.loading import Sources

UTC = "UTC"
DATA_END = pd.Timestamp("2024-12-31", tz=UTC)
OBSERVED_FROM = pd.Timestamp("2023-01-01", tz=UTC)


def _stamps(values: list[str]) -> pd.Series:
    return pd.to_datetime(pd.Series(values), utc=True)


def _accounts() -> pd.DataFrame:
    return pd.DataFrame({
        "account_id": ["A", "B", "C", "D", "E", "F"],
        "created_at": _stamps(["2023-01-01", "2023-03-01", "2022-06-01", "2023-05-01",
                               "2023-02-01", "2023-01-10"]),
    })


def _subscriptions() -> pd.DataFrame:
    rows = [
        ("A1", "A", "2023-01-01", "2024-01-01"),  # renewed at once,
        ("A2", "A", "2024-01-01", "2025-01-01"),  # and still paying at the data's end
        ("B1", "B", "2023-03-01", "2024-03-01"),  # not renewed: lost 2024-03-01
        ("C1", "C", "2022-06-01", "2023-06-01"),  # created before the history: left out
        ("E1", "E", "2023-02-01", "2024-12-15"),  # renewal still undecided at the end
        ("F1", "F", "2023-01-10", "2023-02-10"),  # lost (the comeback is too late to
        ("F2", "F", "2023-06-01", "2024-06-01"),  # count as a renewal)
    ]
    frame = pd.DataFrame(rows, columns=["subscription_id", "account_id", "start_date",
                                        "end_date"])
    frame["start_date"] = _stamps(list(frame["start_date"]))
    frame["end_date"] = _stamps(list(frame["end_date"]))
    frame["arr"] = 1000.0
    return frame


def test_lifetimes_run_from_signup_to_the_first_loss_or_the_last_known_payment():
    got = account_lifetimes(_accounts(), _subscriptions(), DATA_END, OBSERVED_FROM)
    got = got.set_index("account_id")
    # C signed up before the history starts, D never had a term.
    assert list(got.index) == ["A", "B", "E", "F"]
    assert got["lost"].to_dict() == {"A": False, "B": True, "E": False, "F": True}
    # 2023-01-01 .. 2025-01-01 (day after the data's end): 365 + 366 days.
    assert got.at["A", "days"] == pytest.approx(731)
    # 2023-03-01 .. 2024-03-01 crosses 29 February 2024.
    assert got.at["B", "days"] == pytest.approx(366)
    # 2023-02-01 .. 2024-12-15: 365 to 2024-02-01, 304 to 2024-12-01, then 14.
    assert got.at["E", "days"] == pytest.approx(683)
    assert got.at["F", "days"] == pytest.approx(31)
    assert got.at["F", "lost_at"] == pd.Timestamp("2023-02-10", tz=UTC)
    assert pd.isna(got.at["E", "lost_at"])


def test_kaplan_meier_matches_the_product_limit_by_hand():
    days = np.array([30, 60, 90, 120, 200])
    lost = np.array([True, False, True, False, False])
    curve, at_risk = kaplan_meier(days, lost, np.array([0, 29, 30, 45, 90, 100, 250]))
    # Day 30: 1 of 5 at risk lost (0.8); day 90: 1 of the 3 left (0.8 x 2/3).
    assert curve == pytest.approx([1, 1, 0.8, 0.8, 0.8 * 2 / 3, 0.8 * 2 / 3, 0.8 * 2 / 3])
    assert list(at_risk) == [5, 5, 5, 4, 3, 2, 0]


def test_kaplan_meier_counts_tied_losses_together():
    curve, _ = kaplan_meier(np.array([10, 10, 20, 30]), np.array([True, True, False, True]),
                            np.array([10, 30]))
    assert curve == pytest.approx([0.5, 0.0])


def test_cohort_curves_leave_out_accounts_seen_only_after_their_signup():
    usage = pd.DataFrame({"account_id": ["A"], "timestamp": _stamps(["2023-01-01"]),
                          "event_type": ["login"], "user_id": ["u"], "quantity": [1.0]})
    sources = Sources({"accounts": _accounts(), "subscriptions": _subscriptions(),
                       "usage_events": usage}, DATA_END, "memory")
    curves = signup_cohort_retention(sources, "Y", max_months=12, min_at_risk=1)
    assert set(curves["cohort"]) == {"2023"}
    assert set(curves["accounts"]) == {4}  # A, B, E, F
    by_month = curves.set_index("months")
    # F is lost after 31 days (just past month 1), B after 366 (just past month 12).
    assert by_month.at[1, "retained"] == pytest.approx(1.0)
    assert by_month.at[2, "retained"] == pytest.approx(0.75)
    assert by_month.at[12, "retained"] == pytest.approx(0.75)
    assert by_month.at[12, "at_risk"] == 3  # A, B and E are still observed


def test_curves_stop_where_too_few_accounts_remain_observed():
    usage = pd.DataFrame({"account_id": ["A"], "timestamp": _stamps(["2023-01-01"]),
                          "event_type": ["login"], "user_id": ["u"], "quantity": [1.0]})
    sources = Sources({"accounts": _accounts(), "subscriptions": _subscriptions(),
                       "usage_events": usage}, DATA_END, "memory")
    curves = signup_cohort_retention(sources, "Y", max_months=36, min_at_risk=2)
    # A month is 30.44 days. After B (366 days) only A and E remain; E is censored
    # after 683 days, 22.4 months, so month 23 has A alone.
    assert curves["months"].max() == 22
    assert curves.set_index("months").at[22, "at_risk"] == 2
