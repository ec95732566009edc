"""Batch scoring: every active account at one as_of, scored and explained by the champion,
written to the score store as one run.

The scoring frame comes from `point_in_time.training_set.build_scoring_frame`, the same code
that builds training sets, with the model's own key features, so scoring can never see a
feature the model was not trained on. Each score is stored with the evidence behind it
(`features.point_in_time.evidence`) and the run with this quarter's renewal outcomes
(`features.point_in_time.terms.quarter_renewals`), both read from the same sources before as_of, so
the CSM page shows them without reading the sources again. The whole run is written in
one transaction.

A partitioned base is scored one bucket at a time (here, or a task each on a Dask
cluster), and each bucket's rows are set aside on disk as it is done
(`serving.store.spool`), so memory is set by one bucket, not by the book; the run stored
is the one a single pass gives.

A run reads only the usage it can see (`scoring_reach`): the sources are loaded with that
reach, and the features and evidence refuse an as_of whose reach starts before the usage
read (`Sources.require_usage`).
"""

from __future__ import annotations

import datetime as dt
import heapq
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.distributed.cluster import InProcess, Runner
from features.errors import ChurnlensError
from features.point_in_time.catalog import key_features_in
from features.point_in_time.evidence import USAGE_DAYS, evidence_at
from features.point_in_time.families.usage_rows import LOOKBACK_DAYS
from features.point_in_time.terms import quarter_renewals
from features.point_in_time.training_set import build_scoring_frame
from features.sources.buckets import Manifest, load_bucket, read_manifest
from features.sources.loading import Sources
from features.sources.usage_reach import UsageReach
from serving.alerts.facts import last_records, run_facts
from serving.monitoring.counts import run_counts
from serving.risk import Bands, RiskScore, explain_matrix, plain
from serving.store.monitoring import ShadowScore
from serving.store.score_store import AccountInfo, RenewalDue, ScoreStore, StoredScore
from serving.store.spool import RunSpool
from training.model import ChurnRiskModel

log = logging.getLogger(__name__)

CHUNK = 2_000  # rows explained per call; bounds memory and lets progress be logged


@dataclass(frozen=True)
class Shadow:
    """A model that scores the same accounts alongside the champion, never shown to CSMs:
    the challenger, compared on the same accounts as their renewals resolve."""

    model: ChurnRiskModel
    version: str


@dataclass(frozen=True)
class Scored:
    """Scores of a run's accounts, each one's features, shadow scores and alert facts."""

    scores: list[StoredScore]
    features: list[dict[str, Any]]
    shadow: list[ShadowScore] = field(default_factory=list)
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)  # alert facts by account


@dataclass(frozen=True)
class BatchResult:
    run_id: int
    as_of: dt.date
    model_version: str
    accounts: int
    high_risk: int
    seconds: float
    example_request: dict[str, Any]  # a POST /v1/score body for two of the accounts


def default_as_of(sources: Sources) -> dt.date:
    """The day after the data's last day: every record is then strictly before as_of."""
    return day_after(sources.data_end)


def day_after(data_end: pd.Timestamp) -> dt.date:
    """The default as_of of data ending on `data_end`."""
    return (data_end.normalize() + pd.Timedelta(days=1)).date()


def scoring_reach(as_of: dt.date | None, months_before: int = 0) -> UsageReach:
    """The usage a run at `as_of` (None: the default as_of) reads: back as far as the
    longest usage feature window or the usage evidence, whichever is longer, and each
    account and event type's last use before that (for "days since the last use");
    `months_before` reaches far enough for runs that many months earlier too."""
    months = 31 * (months_before + 1) if months_before else 0
    return UsageReach(max(LOOKBACK_DAYS, USAGE_DAYS) + months, as_of)


def monthly_history(as_of: dt.date, months: int) -> list[dt.date]:
    """The first days of the `months` months before `as_of`, oldest first: the dates a
    new workspace scores so that history and alerts exist from its first day."""
    first = as_of.replace(day=1)
    if first == as_of:
        first = (first - dt.timedelta(days=1)).replace(day=1)
    out = [first]
    while len(out) < months:
        out.append((out[-1] - dt.timedelta(days=1)).replace(day=1))
    return sorted(out[:months])


@dataclass(frozen=True)
class ScoredPart:
    """The scores of some of a run's accounts (one bucket's, or all), with what the run
    stores beside them; parts are stored as the run a single pass would give
    (`store_run`)."""

    scored: Scored
    profiled: pd.DataFrame  # the reference profile's features, one row per account
    probability: np.ndarray
    renewals: list[RenewalDue]
    last_records: dict[str, str | None]


def score_part(sources: Sources, model: ChurnRiskModel, version: str, as_of: dt.date,
               bands: Bands, grace_days: int = 30, shadow: Shadow | None = None
               ) -> ScoredPart:
    """The scores, evidence, facts, renewals and last records of `sources`' accounts."""
    renewals = renewals_due(sources, as_of, grace_days)
    records_end = last_records(sources, as_of)
    names_needed = [*model.contract.names, *(shadow.model.contract.names if shadow else ())]
    keys = sorted(set(key_features_in(names_needed)))
    frame = build_scoring_frame(sources, as_of, keys, grace_days)
    if frame.empty:
        return ScoredPart(Scored([], []), frame, np.zeros(0), renewals, records_end)
    model.contract.check_columns(list(frame.columns))
    names = list(model.contract.names)
    matrix = model.contract.encode(frame)
    values = frame[names].astype("object").where(frame[names].notna(), None)
    records: list[dict[str, Any]] = values.to_dict("records")
    pairs = list(zip(frame["account_id"].astype(str), [as_of] * len(frame), strict=True))
    scores: list[RiskScore] = []
    for lo in range(0, len(frame), CHUNK):
        hi = min(lo + CHUNK, len(frame))
        scores += explain_matrix(model, version, matrix[lo:hi], records[lo:hi], pairs[lo:hi],
                                 bands, num_threads=2, all_contributions=True)
        log.info("scored %d of %d accounts", hi, len(frame))
    ids = frame["account_id"].astype(str)
    infos = _account_infos(sources, ids, frame["arr"], frame["term_end"])
    evidence = evidence_at(sources, as_of, ids)
    stored = [StoredScore(score, info, evidence[info.account_id])
              for score, info in zip(scores, infos, strict=True)]
    probability = np.array([s.probability for s in scores], dtype=np.float64)
    shadowed = []
    if shadow is not None:
        shadow.model.contract.check_columns(list(frame.columns))
        chances = shadow.model.predict_proba(frame)
        shadowed = [ShadowScore(account, shadow.version, float(p))
                    for account, p in zip(ids, chances, strict=True)]
        log.info("shadow model %s scored the same %d accounts", shadow.version, len(shadowed))
    profiled = frame[[c for c in (model.profile.features if model.profile else ())
                      if c in frame.columns]]
    return ScoredPart(Scored(stored, records, shadowed,
                             run_facts(frame, evidence, as_of)),
                      profiled, probability, renewals, records_end)


class RunTail:
    """What a run keeps of each part besides its rows (which go to the store piece by
    piece): the few columns its counts need, its renewals and last records, joined in the
    single-pass order (by account id) once every part is in."""

    def __init__(self) -> None:
        self._ids: list[str] = []
        self._profiled: list[pd.DataFrame] = []
        self._probability: list[np.ndarray] = []
        self._renewals: list[RenewalDue] = []
        self._ends: list[dict[str, str | None]] = []

    def add(self, part: ScoredPart) -> None:
        if part.scored.scores:  # an empty part's frame would only change the dtypes
            self._ids += [s.score.account_id for s in part.scored.scores]
            self._profiled.append(part.profiled)
            self._probability.append(part.probability)
        self._renewals += part.renewals
        self._ends.append(part.last_records)

    def counts(self, model: ChurnRiskModel) -> dict[str, Any] | None:
        """The run's counts over the model's reference bins (None without a profile), of
        its accounts in the single-pass order, as new categories are counted by first
        appearance."""
        if model.profile is None or not self._ids:
            return None
        order = np.argsort(np.array(self._ids, dtype=object), kind="stable")
        frame = pd.concat(self._profiled, ignore_index=True).iloc[order]
        probability = np.concatenate(self._probability)[order]
        return run_counts(model.profile, frame.reset_index(drop=True), probability).to_dict()

    def renewals(self) -> list[RenewalDue]:
        return sorted(self._renewals, key=lambda r: r.account.account_id)

    def last_records(self) -> dict[str, str | None]:
        """Each table's last record day over the parts."""
        ends = self._ends
        return {name: max((day for e in ends if (day := e.get(name))), default=None)
                for name in dict.fromkeys(n for e in ends for n in e)}


def renewals_due(sources: Sources, as_of: dt.date, grace_days: int = 30) -> list[RenewalDue]:
    """The renewals due in as_of's quarter with their outcomes, as the store keeps them."""
    due = quarter_renewals(sources.subscriptions, pd.Timestamp(as_of, tz="UTC"), grace_days,
                           sources.outcomes_known_through)
    infos = _account_infos(sources, due["account_id"].astype(str), due["arr"],
                           due["renewal_date"])
    return [RenewalDue(info, str(subscription), str(outcome))
            for info, subscription, outcome in zip(infos, due["subscription_id"],
                                                   due["outcome"], strict=True)]


def run_batch(sources: Sources, model: ChurnRiskModel, version: str, store: ScoreStore,
              as_of: dt.date | None, bands: Bands, grace_days: int = 30,
              shadow: Shadow | None = None) -> BatchResult:
    """Score every active account and store the run; nothing is stored if anything fails."""
    started = time.perf_counter()
    as_of = as_of or default_as_of(sources)
    part = score_part(sources, model, version, as_of, bands, grace_days, shadow)
    return store_run(iter([(0, part)]), model, version, store, as_of, sources.data_end,
                     started)


def run_partitioned(directory: str | Path, model: ChurnRiskModel, version: str,
                    store: ScoreStore, as_of: dt.date | None, bands: Bands,
                    grace_days: int = 30, shadow: Shadow | None = None, *,
                    runner: Runner | None = None) -> BatchResult:
    """`run_batch` on a partitioned base, one bucket at a time (here, or a task each on
    `runner`'s cluster), each bucket's rows set aside as it is done: the same run, with
    memory set by one bucket's sources and scores."""
    started = time.perf_counter()
    root = str(Path(directory).absolute())  # the path workers see, links and all
    manifest = read_manifest(root)
    as_of = as_of or day_after(manifest.data_end)
    done = (runner or InProcess()).each(
        score_bucket, range(manifest.buckets),
        lambda done, total: log.info("scored bucket %d of %d", done, total),
        **_bucket_task(root, manifest, model, version, as_of, bands, grace_days, shadow))
    return store_run(done, model, version, store, as_of, manifest.data_end, started)


def _bucket_task(directory: str, manifest: Manifest, model: ChurnRiskModel, version: str,
                 as_of: dt.date, bands: Bands, grace_days: int, shadow: Shadow | None
                 ) -> dict[str, Any]:
    """The arguments every bucket's task shares."""
    return {"directory": directory, "manifest": manifest, "model": model,
            "version": version, "as_of": as_of, "bands": bands, "grace_days": grace_days,
            "shadow": shadow, "reach": scoring_reach(as_of)}


def score_bucket(bucket: int, directory: str, manifest: Manifest, model: ChurnRiskModel,
                 version: str, as_of: dt.date, bands: Bands, grace_days: int,
                 shadow: Shadow | None, reach: UsageReach) -> ScoredPart:
    """One bucket's part of a run; a task on its own."""
    sources = load_bucket(directory, bucket, manifest, usage_reach=reach)
    return score_part(sources, model, version, as_of, bands, grace_days, shadow)


def store_run(done: Iterator[tuple[int, ScoredPart]], model: ChurnRiskModel, version: str,
              store: ScoreStore, as_of: dt.date, data_end: pd.Timestamp, started: float
              ) -> BatchResult:
    """Store the run of the parts `done` yields (as a runner's `each` does), each part's
    rows set aside as it comes, so that only one is held at a time, then written in one
    transaction; nothing is stored if anything fails."""
    tail = RunTail()
    high = 0
    first: list[tuple[str, StoredScore, dict[str, Any]]] = []  # the example's accounts
    with RunSpool(version, as_of) as spool:
        for _, part in done:
            scored = part.scored
            spool.add(scored.scores, facts=scored.facts, shadow=scored.shadow)
            tail.add(part)
            high += sum(s.score.band == "high" for s in scored.scores)
            first = heapq.nsmallest(2, [*first, *zip((s.score.account_id
                                                      for s in scored.scores),
                                                     scored.scores, scored.features,
                                                     strict=True)],
                                    key=lambda pair: pair[0])
            del part, scored
        if not spool.accounts:
            raise ChurnlensError(f"No account is active on {as_of}: nothing to score. Pick "
                                 f"an as_of within the data (it ends {data_end.date()}).")
        run_id = store.write_spooled(spool, renewals=tail.renewals(),
                                     counts=tail.counts(model),
                                     reference=None if model.profile is None
                                     else model.profile.to_dict(),
                                     last_records=tail.last_records())
    return BatchResult(run_id, as_of, version, spool.accounts, high,
                       time.perf_counter() - started,
                       _example([s for _, s, _ in first], [f for _, _, f in first]))


def _example(scored: list[StoredScore], features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"accounts": [
        {"account_id": s.score.account_id, "as_of": s.score.as_of.isoformat(),
         "features": {k: plain(v) for k, v in row.items()}}
        for s, row in zip(scored, features, strict=True)]}


def _account_infos(sources: Sources, ids: pd.Series, arr: pd.Series, renewal: pd.Series
                   ) -> list[AccountInfo]:
    """Account facts for `ids`, with each one's ARR and renewal date given alongside."""
    accounts = sources.accounts.set_index(sources.accounts["account_id"].astype(str))
    looked_up = accounts.reindex(ids)

    def text(column: str) -> np.ndarray:
        if column not in looked_up:
            return np.full(len(ids), "", dtype=object)
        return looked_up[column].astype("object").fillna("").astype(str).to_numpy()

    names, segments, owners = text("name"), text("segment"), text("csm_owner")
    arr_values = arr.astype("float64").fillna(0.0).to_numpy()
    days = [d if pd.notna(d) else None for d in pd.Series(pd.to_datetime(renewal)).dt.date]
    return [
        AccountInfo(account_id=account_id, name=names[i] or account_id, segment=segments[i],
                    csm_owner=owners[i], arr=float(arr_values[i]), renewal_date=days[i])
        for i, account_id in enumerate(ids)
    ]
