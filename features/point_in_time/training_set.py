"""Training sets and scoring frames: the same spine and features, so they cannot disagree.

A training set has one row per active account and as_of on the spec's grid, labelled
where the outcome is known and NA where it is not (training drops those; they stay in the
file). A scoring frame is the same thing for one as_of. Column order: account_id, as_of,
subscription_id, term_end, label_resolved_at, churned, then the catalog's features in
catalog order; categoricals stay pandas categoricals.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Sequence

import pandas as pd

from features.point_in_time.build import build_features, resolve_key_features
from features.point_in_time.families.usage_rows import LOOKBACK_DAYS
from features.point_in_time.spec import TrainingSetSpec, check_as_of
from features.point_in_time.spine import build_spine
from features.sources.loading import Sources

log = logging.getLogger(__name__)


def build_training_set(sources: Sources, spec: TrainingSetSpec,
                       timings: dict[str, float] | None = None) -> pd.DataFrame:
    """Snapshots on the spec's dates with labels and point-in-time features.

    `timings`, when given, receives the seconds spent on the spine and each family.
    """
    dates = spec.as_of_dates(default_start(sources), sources.data_end)
    key_features = resolve_key_features(sources, spec.key_features)
    frame = build_rows(sources, list(dates), spec.grace_days, key_features, timings)
    labelled = frame["churned"].notna()
    log.info("training set %r: %d rows over %d snapshot dates, %d labelled (%.1f%% churned)",
             spec.name, len(frame), len(dates), int(labelled.sum()),
             100 * frame["churned"][labelled].astype(float).mean() if labelled.any() else 0)
    return frame


# The longest look-back window of any feature: snapshots earlier than this after the
# start of activity history would read "no activity" where there is only no data.
LONGEST_WINDOW = pd.Timedelta(days=90)
SHORT_WINDOW = pd.Timedelta(days=28)  # the month windows: whole after four weeks
MAX_WAIT_SHARE = 0.25  # of the history a first snapshot may wait for full windows


def default_start(sources: Sources) -> pd.Timestamp:
    """The first as_of whose feature windows all lie within the recorded history, unless
    waiting for them would drop too much of a short history.

    History starts at `Sources.history_start` (the earliest activity record); the first
    snapshot comes a full look-back window after that. When that window is more than
    `MAX_WAIT_SHARE` of the history (six months of data would lose half of it), the
    snapshots start one `SHORT_WINDOW` in instead, and the first ones' longer windows
    cover less than their length: said in a warning, never done in silence.
    """
    return snapshots_start(pd.Timestamp(sources.subscriptions["start_date"].min()),
                           sources.history_start(), sources.data_end)


def snapshots_start(first_term: pd.Timestamp, history: pd.Timestamp,
                    data_end: pd.Timestamp) -> pd.Timestamp:
    """`default_start` from the base's first term start, history start and data end
    (a bucketed base knows them from its manifest, not from one bucket's rows)."""
    span = data_end - history
    wait = LONGEST_WINDOW
    if MAX_WAIT_SHARE * span < LONGEST_WINDOW:
        wait = SHORT_WINDOW
        log.warning(
            "the activity history is short (%s .. %s, %d days): snapshots start %d days "
            "in, not %d, so the first ones' %d-day features cover less than their window "
            "(their 7- and 28-day ones are whole). Pass --start %s to wait for full "
            "windows.", history.date(), data_end.date(), span.days, wait.days,
            LONGEST_WINDOW.days, LONGEST_WINDOW.days, (history + LONGEST_WINDOW).date())
    start = max(first_term, history + wait)
    log.info("snapshots start at %s: activity history starts %s, feature windows reach "
             "back %d days", start.date(), history.date(), LONGEST_WINDOW.days)
    return pd.Timestamp(start)


def build_scoring_frame(sources: Sources, as_of: dt.date | pd.Timestamp,
                        key_features: Sequence[str] | None = None,
                        grace_days: int = 30) -> pd.DataFrame:
    """Every account active at `as_of` with the features a training set would give it.

    Pass the model's key features so the columns match those it was trained on; as_of is
    floored to 00:00 UTC like every snapshot.
    """
    stamp = pd.Timestamp(as_of)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    check_as_of(pd.DatetimeIndex([stamp.floor("D")]), sources.data_end)
    keys = resolve_key_features(sources, key_features)
    return build_rows(sources, [stamp], grace_days, keys, None)


def build_rows(sources: Sources, dates: list[pd.Timestamp], grace_days: int,
               key_features: Sequence[str], timings: dict[str, float] | None
               ) -> pd.DataFrame:
    """The spine of `dates` and its features: one row per active account and date."""
    if dates:
        sources.require_usage(min(dates), LOOKBACK_DAYS, "features")
    began = time.perf_counter()
    spine = build_spine(sources.subscriptions, sources.accounts["account_id"],
                        sources.outcomes_known_through, dates, grace_days)
    if timings is not None:
        timings["spine"] = time.perf_counter() - began
    return build_features(spine, sources, key_features, timings)
