"""The snapshot spine: grid, current term, labels of hand-built cases, censoring."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from features.errors import ConfigError
from features.point_in_time.spec import TrainingSetSpec
from features.point_in_time.spine import build_spine, snapshot_dates

END = pd.Timestamp("2024-12-31", tz="UTC")


def _subs(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["subscription_id", "account_id", "start_date",
                                        "end_date"])
    for col in ("start_date", "end_date"):
        frame[col] = pd.to_datetime(frame[col], utc=True).dt.as_unit("ns")
    frame["arr"] = 100.0
    return frame


CASES = _subs([
    ("renewed", "A", "2023-01-01", "2024-01-01"),
    ("renewed-next", "A", "2024-01-01", "2025-01-01"),
    ("late", "B", "2023-01-01", "2024-01-01"),
    ("late-next", "B", "2024-01-25", "2025-01-25"),
    ("churned", "C", "2023-01-01", "2024-01-01"),
    ("monthly-1", "D", "2024-05-01", "2024-06-01"),
    ("monthly-2", "D", "2024-06-01", "2024-07-01"),
    ("early", "E", "2023-03-01", "2024-03-01"),
    ("early-next", "E", "2024-02-01", "2025-02-01"),
    ("censored", "F", "2024-01-01", "2024-12-15"),
    ("renewing", "G", "2024-11-28", "2024-12-28"),  # monthly: 7 days of grace, to 2025-01-04
    ("renewing-next", "G", "2024-12-28", "2025-01-28"),
])


def _spine(dates: list[str]) -> pd.DataFrame:
    accounts = pd.Series(list("ABCDEFGH"))
    return build_spine(CASES, accounts, END, [pd.Timestamp(d) for d in dates]).frame


def _label(frame: pd.DataFrame, account: str, as_of: str) -> object:
    row = frame[(frame["account_id"] == account) & (frame["as_of"] == pd.Timestamp(as_of,
                                                                                  tz="UTC"))]
    assert len(row) == 1, (account, as_of)
    value = row["churned"].iloc[0]
    return value if value is pd.NA else bool(value)


def test_labels_of_hand_built_cases():
    frame = _spine(["2023-06-01", "2024-05-01", "2024-06-01", "2024-02-15"])
    assert _label(frame, "A", "2023-06-01") is False
    assert _label(frame, "B", "2023-06-01") is False  # renewed 24 days late: in grace
    assert _label(frame, "C", "2023-06-01") is True
    assert _label(frame, "D", "2024-05-01") is False  # monthly term renewed
    assert _label(frame, "D", "2024-06-01") is True  # monthly cancellation
    assert _label(frame, "F", "2024-06-01") is pd.NA  # outcome after the data's end
    row = frame[(frame["account_id"] == "B") & (frame["as_of"].dt.year == 2023)].iloc[0]
    assert row["label_resolved_at"] == pd.Timestamp("2024-01-31", tz="UTC")  # end + grace
    assert row["subscription_id"] == "late"
    assert row["term_end"] == pd.Timestamp("2024-01-01", tz="UTC")


def test_a_started_renewal_stays_unlabelled_until_the_grace_period_is_over():
    """Else the last snapshots would see renewals early and churn late: a biased label."""
    frame = _spine(["2024-12-01"])
    assert _label(frame, "G", "2024-12-01") is pd.NA
    row = frame[frame["account_id"] == "G"].iloc[0]
    assert pd.isna(row["label_resolved_at"])


def test_accounts_without_an_active_term_are_not_in_the_spine():
    frame = _spine(["2024-01-10", "2024-02-15"])
    assert set(frame.loc[frame["as_of"].dt.month == 1, "account_id"]) == {"A", "E", "F"}
    # B is between terms (in grace), C churned, D and G not yet customers, H never was.
    assert "C" not in set(frame["account_id"])


def test_overlapping_terms_take_the_latest_started_and_start_is_inclusive():
    frame = _spine(["2024-02-15", "2024-01-01"])
    e_row = frame[frame["account_id"] == "E"]
    assert e_row["subscription_id"].tolist() == ["early", "early-next"]
    a_row = frame[(frame["account_id"] == "A")]
    assert a_row["subscription_id"].tolist() == ["renewed-next", "renewed-next"]


def test_rows_are_ordered_by_as_of_then_account():
    frame = _spine(["2024-06-01", "2023-06-01"])
    keys = list(zip(frame["as_of"], frame["account_id"], strict=True))
    assert keys == sorted(keys)


def test_grids_are_month_starts_and_mondays_at_midnight_utc():
    monthly = snapshot_dates(dt.date(2024, 1, 15), dt.date(2024, 4, 1))
    assert [d.isoformat() for d in monthly] == [
        "2024-02-01T00:00:00+00:00", "2024-03-01T00:00:00+00:00", "2024-04-01T00:00:00+00:00"]
    weekly = snapshot_dates(dt.date(2024, 1, 1), dt.date(2024, 1, 20), "weekly")
    assert [d.day for d in weekly] == [1, 8, 15] and all(d.day_of_week == 0 for d in weekly)


def test_spec_resolves_dates_and_refuses_snapshots_after_the_data_end():
    first = pd.Timestamp("2023-01-10", tz="UTC")
    spec = TrainingSetSpec(start=dt.date(2024, 10, 1))
    assert spec.as_of_dates(first, END)[-1] == pd.Timestamp("2024-12-01", tz="UTC")
    assert TrainingSetSpec().as_of_dates(first, END)[0] == pd.Timestamp("2023-02-01", tz="UTC")
    with pytest.raises(ConfigError, match="after the data's end"):
        TrainingSetSpec(dates=(dt.date(2025, 3, 1),)).as_of_dates(first, END)
    with pytest.raises(ValueError, match="not both"):
        TrainingSetSpec(start=dt.date(2024, 1, 1), dates=(dt.date(2024, 1, 1),))
    with pytest.raises(ValueError, match="Extra inputs"):
        TrainingSetSpec(frequency="weekly")  # type: ignore[call-arg]
