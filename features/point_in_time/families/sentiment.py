"""Sentiment features: NPS and relationship CSAT from surveys, and the CSM's read.

The CSM's read is both the sentiment of the notes (the latest, its change, the mean over a
year) and the churn-precursor events the notes name (`features.point_in_time.note_topics`).

Surveys and CSM notes are separate optional tables, so each has its own function: a
source without csm_notes still gets its survey features. When two answers (or notes) of
one account share a timestamp, the lower score (sentiment) counts as the earlier, so the
"latest" never depends on row order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.point_in_time.catalog_entries import NPS_CATEGORIES, SENTIMENTS
from features.point_in_time.note_topics import topic_flags
from features.point_in_time.spine import Spine, timestamps_ns
from features.point_in_time.windows import EventIndex
from features.sources.contract import DAY_NS, NPS_KIND

CSAT_KIND = "csat"


def _categorical(codes: np.ndarray, levels: tuple[str, ...]) -> pd.Categorical:
    """Categorical from float codes into `levels` (NaN: missing)."""
    whole = np.where(np.isnan(codes), -1, codes).astype(np.int64)
    return pd.Categorical.from_codes(whole, categories=list(levels))


def nps_category(scores: np.ndarray) -> pd.Categorical:
    """Detractor 0-6, passive 7-8, promoter 9-10."""
    codes = np.select([scores < 7, scores < 9, scores >= 9], [0.0, 1.0, 2.0], np.nan)
    return _categorical(codes, NPS_CATEGORIES)


def compute_surveys(spine: Spine, surveys: pd.DataFrame) -> pd.DataFrame:
    accounts = spine.encode(surveys["account_id"])
    known = accounts >= 0
    times = timestamps_ns(surveys["responded_at"])
    scores = surveys["score"].to_numpy(dtype=np.float64, na_value=np.nan)
    kind = surveys["kind"].astype("str").to_numpy()
    queries = spine.queries("ns")

    nps = known & (kind == NPS_KIND)
    nps_index = EventIndex(accounts[nps], times[nps], tiebreak=scores[nps])
    latest, previous = nps_index.latest(queries), nps_index.latest(queries, nth=2)
    nps_latest = nps_index.take(scores[nps], latest)

    csat = known & (kind == CSAT_KIND)
    csat_index = EventIndex(accounts[csat], times[csat])
    csat_count = csat_index.count(queries, 180 * DAY_NS)
    csat_sum = csat_index.total(scores[csat], queries, 180 * DAY_NS)
    with np.errstate(divide="ignore", invalid="ignore"):
        csat_mean = np.where(csat_count > 0, csat_sum / csat_count, np.nan)

    return pd.DataFrame({
        "nps_latest": nps_latest,
        "nps_category": nps_category(nps_latest),
        "days_since_nps": nps_index.elapsed(queries, latest) / DAY_NS,
        "nps_change": nps_latest - nps_index.take(scores[nps], previous),
        "csat_survey_mean_180d": csat_mean,
        "survey_responses_365d": EventIndex(accounts[known], times[known])
        .count(queries, 365 * DAY_NS),
    })


@dataclass(frozen=True)
class _Notes:
    """The notes of spine accounts: `known` marks them among all rows; `index` orders them
    by time (ties: the lower sentiment first); `codes` are their sentiments (red=0 ..
    green=2, NaN unknown), `accounts` and `times` their spine codes and times."""

    known: np.ndarray
    index: EventIndex
    codes: np.ndarray
    accounts: np.ndarray
    times: np.ndarray


def _notes(spine: Spine, notes: pd.DataFrame) -> _Notes:
    accounts = spine.encode(notes["account_id"])
    known = accounts >= 0
    times = timestamps_ns(notes["noted_at"])[known]
    levels = pd.Categorical(notes["sentiment"].astype("str"), categories=list(SENTIMENTS))
    codes = levels.codes.astype(np.float64)[known]
    codes[codes < 0] = np.nan
    index = EventIndex(accounts[known], times, tiebreak=np.nan_to_num(codes, nan=-1))
    return _Notes(known, index, codes, accounts[known], times)


def latest_sentiment(spine: Spine, notes: pd.DataFrame) -> pd.Categorical:
    """The CSM's latest sentiment before each as_of (what the lifecycle stage reads)."""
    found = _notes(spine, notes)
    latest = found.index.latest(spine.queries("ns"))
    return _categorical(found.index.take(found.codes, latest), SENTIMENTS)


def compute_notes(spine: Spine, notes: pd.DataFrame) -> pd.DataFrame:
    found = _notes(spine, notes)
    index, codes = found.index, found.codes
    queries = spine.queries("ns")
    latest, previous = index.latest(queries), index.latest(queries, nth=2)
    now = index.take(codes, latest)
    rated = ~np.isnan(codes)
    year = 365 * DAY_NS
    count = index.total(rated.astype(np.float64), queries, year)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(count > 0, index.total(np.where(rated, codes, 0.0), queries, year)
                        / count, np.nan)
    out = {
        "csm_sentiment_latest": _categorical(now, SENTIMENTS),
        "csm_sentiment_change": now - index.take(codes, previous),
        "days_since_csm_note": index.elapsed(queries, latest) / DAY_NS,
        "csm_sentiment_mean_365d": mean,
    }
    for topic, flags in topic_flags(notes["text"][found.known]).items():
        about = EventIndex(found.accounts[flags], found.times[flags])
        out[f"days_since_{topic}_note"] = about.elapsed(queries, about.latest(queries)) / DAY_NS
    return pd.DataFrame(out)
