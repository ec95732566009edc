"""Time splits: no label used for training or validation resolves after the test starts."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from training.config import SplitConfig
from training.splits import NotEnoughDataError, plan_splits


def _snapshots(seed: int = 3, *, accounts: int = 200, first: str = "2022-01-01",
               term_days: int = 365, churn: float = 0.15) -> pd.DataFrame:
    """Monthly snapshots from `first` to December 2024, each account on terms of
    `term_days` (by default 200 accounts over 3 years with annual terms)."""
    rng = np.random.default_rng(seed)
    rows = []
    months = pd.date_range(first, "2024-12-01", freq="MS", tz="UTC")
    data_end = pd.Timestamp("2024-12-31", tz="UTC")
    for account in range(accounts):
        offset = int(rng.integers(0, term_days))
        term_end = months[0] + pd.Timedelta(days=offset)
        for as_of in months:
            while term_end <= as_of:
                term_end += pd.Timedelta(days=term_days)
            resolved = term_end + pd.Timedelta(days=30)
            known = resolved <= data_end
            rows.append({"account_id": f"A{account}", "as_of": as_of,
                         "subscription_id": f"A{account}-{term_end.date()}",
                         "label_resolved_at": resolved if known else pd.NaT,
                         "churned": bool(rng.random() < churn) if known else pd.NA})
    frame = pd.DataFrame(rows)
    frame["churned"] = frame["churned"].astype("boolean")
    return frame


def test_no_train_or_validation_label_resolves_after_the_test_starts():
    frame = _snapshots()
    splits = plan_splits(frame, SplitConfig(test_months=3, validation_months=3,
                                            backtest_folds=3, min_label_coverage=0.8))
    assert [s.name for s in splits] == ["cutoff", "backtest-1", "backtest-2", "backtest-3"]
    for split in splits:
        train, valid, test = (frame.iloc[r] for r in (split.train, split.validation, split.test))
        assert len(train) and len(valid) and len(test)
        assert (train["label_resolved_at"] <= split.train_end).all()
        assert (train["as_of"] < split.train_end).all()
        assert (valid["label_resolved_at"] <= split.test_start).all()
        # Validation labels became known after every training label, before the test.
        assert (valid["label_resolved_at"] > split.train_end).all()
        assert (valid["as_of"] < split.test_start).all()
        assert not set(split.train) & set(split.validation)
        assert (test["as_of"] >= split.test_start).all()
        assert (test["as_of"] < split.test_end).all()
        assert test["churned"].notna().all()
        assert not set(split.train) & set(split.test)
    # Test windows roll back in time without overlapping.
    for newer, older in itertools.pairwise(splits):
        assert older.test_end <= newer.test_start


def test_the_test_window_ends_where_labels_are_mostly_known():
    frame = _snapshots()
    split = plan_splits(frame, SplitConfig(backtest_folds=0, min_label_coverage=0.8))[0]
    coverage = frame["churned"].notna().groupby(frame["as_of"]).mean()
    last_test = frame.iloc[split.test]["as_of"].max()
    assert coverage[last_test] >= 0.8
    assert (coverage[coverage.index > last_test] < 0.8).all()


def test_no_covered_snapshot_is_a_clear_error():
    frame = _snapshots()
    frame["churned"] = pd.array([pd.NA] * len(frame), dtype="boolean")
    with pytest.raises(NotEnoughDataError, match="min_label_coverage"):
        plan_splits(frame, SplitConfig())


def test_auto_windows_follow_the_term_length(caplog):
    from training.splits import resolve_split

    frame = _snapshots()
    frame["term_length_days"] = 365.0
    annual = resolve_split(frame, SplitConfig())
    assert (annual.test_months, annual.validation_months) == (3, 3)
    frame["term_length_days"] = 31.0
    with caplog.at_level("INFO", logger="training.splits"):
        monthly = resolve_split(frame, SplitConfig())
    assert (monthly.test_months, monthly.validation_months) == (1, 1)
    assert "the terms are monthly (median 31 days)" in caplog.text
    # Months given in the config are kept, whatever the terms.
    given = resolve_split(frame, SplitConfig(test_months=2, validation_months=4))
    assert (given.test_months, given.validation_months) == (2, 4)
    assert plan_splits(frame, SplitConfig(backtest_folds=0))[0].test_end - \
        plan_splits(frame, SplitConfig(backtest_folds=0))[0].test_start <= pd.Timedelta(days=31)


def _quarterly(first: str) -> pd.DataFrame:
    """300 accounts on 90-day terms, snapshots from `first`."""
    frame = _snapshots(5, accounts=300, first=first, term_days=90, churn=0.1)
    frame["term_length_days"] = 90.0
    return frame


def test_auto_windows_shrink_when_the_history_is_too_short_for_three_months(caplog):
    from training.splits import resolve_split

    long = resolve_split(_quarterly("2023-01-01"), SplitConfig())
    assert (long.test_months, long.validation_months) == (3, 3)
    with caplog.at_level("WARNING", logger="training.splits"):
        short = resolve_split(_quarterly("2024-05-01"), SplitConfig())
    assert (short.test_months, short.validation_months) == (1, 1)
    assert "too short for 3-month windows" in caplog.text
    split = plan_splits(_quarterly("2024-05-01"), short.model_copy(update={"backtest_folds": 0}))[0]
    assert len(split.train) and len(split.validation) and len(split.test)
