"""Time-based splits and rolling backtests; there is no random split anywhere.

Time runs by when a label becomes known (`label_resolved_at`). For a test window
[test_start, test_end) and a training cutoff `validation_months` before test_start:
- train: labelled snapshots whose labels resolved by the cutoff;
- validation: labelled snapshots whose labels resolved after the cutoff and by
  test_start (all snapshots of the terms decided in that window, near and far from
  renewal alike, so early stopping and calibration see the mix the test has);
- test: labelled snapshots with test_start <= as_of < test_end.
So no training or validation label is known later than the first test snapshot, and
every validation label became known after every training label. A window of snapshot
dates would not do for validation: its labels resolve by test_start only for the terms
about to renew, a sample unlike the test rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.errors import ChurnlensError
from training.config import SplitConfig

log = logging.getLogger(__name__)
MONTHLY_TERM_DAYS = 45  # median term length up to which terms count as monthly
LONG_WINDOW_MONTHS, SHORT_WINDOW_MONTHS = 3, 1


class NotEnoughDataError(ChurnlensError):
    """The training set cannot support an honest out-of-time split or fit."""

    exit_code = 4


@dataclass(frozen=True)
class TimeSplit:
    name: str
    train_end: pd.Timestamp  # training labels resolved by this; validation's after it
    test_start: pd.Timestamp
    test_end: pd.Timestamp
    train: np.ndarray  # row positions
    validation: np.ndarray
    test: np.ndarray

    def describe(self) -> str:
        return (f"{self.name}: train labels known by {self.train_end.date()} "
                f"({len(self.train):,} rows), validation labels known by "
                f"{self.test_start.date()} ({len(self.validation):,}), "
                f"test {self.test_start.date()} .. {self.test_end.date()} "
                f"({len(self.test):,})")


def last_covered_as_of(frame: pd.DataFrame, min_coverage: float) -> pd.Timestamp:
    """The latest snapshot date whose rows are at least `min_coverage` labelled."""
    coverage = frame["churned"].notna().groupby(frame["as_of"]).mean()
    covered = coverage[coverage >= min_coverage]
    if covered.empty:
        raise NotEnoughDataError(
            f"No snapshot date has {min_coverage:.0%} of its rows labelled: the data ends "
            f"before most terms reach renewal. Add history, or lower "
            f"split.min_label_coverage in the training config."
        )
    return pd.Timestamp(covered.index.max())


def window_split(frame: pd.DataFrame, name: str, test_start: pd.Timestamp,
                 test_end: pd.Timestamp, validation_months: int) -> TimeSplit:
    """Row positions of train, validation and test for one test window."""
    as_of, resolved = frame["as_of"], frame["label_resolved_at"]
    labelled = frame["churned"].notna().to_numpy()
    validation_start = test_start - pd.DateOffset(months=validation_months)
    test = labelled & ((as_of >= test_start) & (as_of < test_end)).to_numpy()
    validation = labelled & ((resolved > validation_start) & (resolved <= test_start)
                             & (as_of < test_start)).to_numpy()
    train = labelled & ((as_of < validation_start) & (resolved <= validation_start)).to_numpy()
    return TimeSplit(name, validation_start, test_start, test_end, np.flatnonzero(train),
                     np.flatnonzero(validation), np.flatnonzero(test))


def resolve_split(frame: pd.DataFrame, config: SplitConfig) -> SplitConfig:
    """`config` with "auto" windows replaced by month counts that suit the data.

    Monthly terms resolve within weeks, so three-month windows would waste most of a
    short history: they get one-month windows. Longer terms get three-month windows,
    unless the history leaves the cutoff split no training or validation rows with them.
    What is chosen, and why, is logged; explicit month counts are kept as given.
    """
    if config.test_months != "auto" and config.validation_months != "auto":
        return config
    labelled = frame[frame["churned"].notna()]
    term_days = float(labelled["term_length_days"].median()) if (
        "term_length_days" in labelled and labelled["term_length_days"].notna().any()
    ) else float("nan")
    months = SHORT_WINDOW_MONTHS if term_days <= MONTHLY_TERM_DAYS else LONG_WINDOW_MONTHS
    why = (f"the terms are monthly (median {term_days:.0f} days)" if months == 1
           else f"the median term is {term_days:.0f} days")
    if months == LONG_WINDOW_MONTHS and not _fits(frame, config, months):
        months = SHORT_WINDOW_MONTHS
        why = (f"the history is too short for {LONG_WINDOW_MONTHS}-month windows (the "
               f"cutoff split would have no training or validation rows)")
    resolved = config.model_copy(update={
        "test_months": months if config.test_months == "auto" else config.test_months,
        "validation_months": (months if config.validation_months == "auto"
                              else config.validation_months)})
    (log.warning if "short" in why else log.info)(
        "split windows: %s-month test and %s-month validation windows, because %s; set "
        "split.test_months and split.validation_months in a training config to choose",
        resolved.test_months, resolved.validation_months, why)
    return resolved


def _fits(frame: pd.DataFrame, config: SplitConfig, months: int) -> bool:
    try:
        last = last_covered_as_of(frame, config.min_label_coverage)
    except NotEnoughDataError:
        return True  # the split itself says what is wrong
    end = last + pd.Timedelta(days=1)
    split = window_split(frame, "cutoff", end - pd.DateOffset(months=months), end, months)
    return len(split.train) > 0 and len(split.validation) > 0


def labels_unseen(known_through: str | None, rows: pd.DataFrame) -> np.ndarray:
    """Which of `rows` had their labels resolve after `known_through`, the last label a
    model learnt from (its metadata's `labels_known_through`; None: no such record)."""
    if not known_through:
        return np.ones(len(rows), dtype=bool)
    resolved = pd.to_datetime(rows["label_resolved_at"], utc=True)
    return (resolved > pd.Timestamp(known_through)).to_numpy()


def plan_splits(frame: pd.DataFrame, config: SplitConfig) -> list[TimeSplit]:
    """The main cutoff split first, then `backtest_folds` earlier windows (newest first).

    "auto" windows are resolved first (`resolve_split`)."""
    config = resolve_split(frame, config)
    assert isinstance(config.test_months, int) and isinstance(config.validation_months, int)
    last = last_covered_as_of(frame, config.min_label_coverage)
    test_end = last + pd.Timedelta(days=1)
    splits = []
    for fold in range(config.backtest_folds + 1):
        end = test_end - pd.DateOffset(months=config.test_months * fold)
        start = end - pd.DateOffset(months=config.test_months)
        name = "cutoff" if fold == 0 else f"backtest-{fold}"
        split = window_split(frame, name, start, end, config.validation_months)
        if fold > 0 and (len(split.train) == 0 or len(split.validation) == 0):
            break
        splits.append(split)
    return splits


def as_known_at(frame: pd.DataFrame, when: pd.Timestamp) -> pd.DataFrame:
    """The training set as it would have been built at `when`: snapshots before it, and
    only the labels resolved by then (later ones become unknown).

    Features are point in time, so this is exactly the set `churnlens build` would have
    made from the sources as they stood at `when`; replaying history (a model trained
    then, scored on later months) needs no second build.
    """
    when = pd.Timestamp(when)
    when = when.tz_localize("UTC") if when.tzinfo is None else when
    past = frame[pd.to_datetime(frame["as_of"], utc=True) < when].copy()
    unknown = pd.to_datetime(past["label_resolved_at"], utc=True) > when
    past.loc[unknown, "churned"] = pd.NA
    past.loc[unknown, "label_resolved_at"] = pd.NaT
    return past
