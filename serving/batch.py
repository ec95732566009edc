"""Batch scoring: every active account at one as_of, scored and explained by the champion,
written to the score store as one run.

The scoring frame comes from `point_in_time.training_set.build_scoring_frame`, the same code
that builds training sets, with the model's own key features, so scoring can never see a
feature the model was not trained on. Each score is stored with the evidence behind it
(`features.point_in_time.evidence`) and the run with this quarter's renewal outcomes
(`features.point_in_time.terms.quarter_renewals`), both read from the same sources before as_of, so
the CSM page shows them without reading the sources again. The whole run is written in
one transaction.

A run reads only the usage it can see (`scoring_reach`): the sources are loaded with that
reach, and the features and evidence refuse an as_of whose reach starts before the usage
read (`Sources.require_usage`).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
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
    """A run's scores, each one's features, its counts for monitoring and shadow scores."""

    scores: list[StoredScore]
    features: list[dict[str, Any]]
    counts: dict[str, Any] | None = None
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
    stores beside them; parts join into the run a single pass would give."""

    scored: Scored  # its counts are the run's, made once the parts are joined
    profiled: pd.DataFrame  # the reference profile's features, one row per account
    probability: np.ndarray
    renewals: list[RenewalDue]
    last_records: dict[str, str | None]


def score_accounts(sources: Sources, model: ChurnRiskModel, version: str,
                   as_of: dt.date, bands: Bands, grace_days: int = 30,
                   shadow: Shadow | None = None) -> Scored:
    """Scores with reasons for every account active at `as_of`, each one's features, the
    run's counts over the model's reference bins, and the shadow model's scores."""
    return joined([score_part(sources, model, version, as_of, bands, grace_days, shadow)],
                  model).scored


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
    return ScoredPart(Scored(stored, records, None, shadowed,
                             run_facts(frame, evidence, as_of)),
                      profiled, probability, renewals, records_end)


def joined(parts: list[ScoredPart], model: ChurnRiskModel) -> ScoredPart:
    """Parts as one, in the single-pass order (by account id), with the run's counts."""
    scores = [s for p in parts for s in p.scored.scores]
    order = np.argsort(np.array([s.score.account_id for s in scores], dtype=object),
                       kind="stable")
    features = [f for p in parts for f in p.scored.features]
    shadow = sorted((s for p in parts for s in p.scored.shadow), key=lambda s: s.account_id)
    renewals = sorted((r for p in parts for r in p.renewals),
                      key=lambda r: r.account.account_id)
    probability = np.concatenate([p.probability for p in parts])[order]
    profiled = pd.concat([p.profiled for p in parts], ignore_index=True).iloc[order]
    counts = (run_counts(model.profile, profiled, probability).to_dict()
              if model.profile is not None and len(scores) else None)
    facts = {k: v for p in parts for k, v in p.scored.facts.items()}
    ends = [p.last_records for p in parts]
    records_end = {name: max((day for e in ends if (day := e.get(name))), default=None)
                   for name in dict.fromkeys(n for e in ends for n in e)}
    scored = Scored([scores[i] for i in order], [features[i] for i in order], counts, shadow,
                    {k: facts[k] for k in sorted(facts)})
    return ScoredPart(scored, profiled.reset_index(drop=True), probability, renewals,
                      records_end)


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
    part = joined([score_part(sources, model, version, as_of, bands, grace_days, shadow)],
                  model)
    return store_run(part, model, version, store, as_of, sources.data_end, started)


def run_partitioned(directory: str | Path, model: ChurnRiskModel, version: str,
                    store: ScoreStore, as_of: dt.date | None, bands: Bands,
                    grace_days: int = 30, shadow: Shadow | None = None, *,
                    runner: Runner | None = None) -> BatchResult:
    """`run_batch` on a partitioned base, one bucket at a time (here, or a task each on
    `runner`'s cluster): the same run, with memory set by one bucket's sources."""
    started = time.perf_counter()
    data_end = read_manifest(directory).data_end
    as_of = as_of or day_after(data_end)
    part = score_partitioned(directory, model, version, as_of, bands, grace_days, shadow,
                             runner=runner)
    return store_run(part, model, version, store, as_of, data_end, started)


def score_partitioned(directory: str | Path, model: ChurnRiskModel, version: str,
                      as_of: dt.date, bands: Bands, grace_days: int = 30,
                      shadow: Shadow | None = None, *, runner: Runner | None = None
                      ) -> ScoredPart:
    """Every bucket's part of a run at `as_of`, joined."""
    root = str(Path(directory).absolute())  # the path workers see, links and all
    manifest = read_manifest(root)
    parts = (runner or InProcess()).map(
        score_bucket, range(manifest.buckets),
        lambda done, total: log.info("scored bucket %d of %d", done, total),
        directory=root, manifest=manifest, model=model, version=version,
        as_of=as_of, bands=bands, grace_days=grace_days, shadow=shadow,
        reach=scoring_reach(as_of))
    return joined(parts, model)


def score_bucket(bucket: int, directory: str, manifest: Manifest, model: ChurnRiskModel,
                 version: str, as_of: dt.date, bands: Bands, grace_days: int,
                 shadow: Shadow | None, reach: UsageReach) -> ScoredPart:
    """One bucket's part of a run; a task on its own."""
    sources = load_bucket(directory, bucket, manifest, usage_reach=reach)
    return score_part(sources, model, version, as_of, bands, grace_days, shadow)


def store_run(part: ScoredPart, model: ChurnRiskModel, version: str, store: ScoreStore,
              as_of: dt.date, data_end: pd.Timestamp, started: float) -> BatchResult:
    """Write a joined run in one transaction; nothing is stored if anything fails."""
    scored = part.scored.scores
    if not scored:
        raise ChurnlensError(f"No account is active on {as_of}: nothing to score. Pick an "
                             f"as_of within the data (it ends {data_end.date()}).")
    run_id = store.write_run(version, as_of, scored, renewals=part.renewals,
                             counts=part.scored.counts, shadow=part.scored.shadow,
                             facts=part.scored.facts, last_records=part.last_records,
                             reference=None if model.profile is None
                             else model.profile.to_dict())
    high = sum(s.score.band == "high" for s in scored)
    return BatchResult(run_id, as_of, version, len(scored), high,
                       time.perf_counter() - started,
                       _example(scored[:2], part.scored.features[:2]))


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
