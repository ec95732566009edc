"""Judge stored scoring runs: drift against the model's profile, realised performance, verdict.

A run is judged from what the store keeps of it (its counts over the reference bins, the
scoring model's reference profile and its scores) and from the sources' subscriptions,
which say which of the scored terms have resolved since; the model registry is asked for
a profile only for runs stored without one. Judging is repeatable: each time renewals
resolve, a run's realised figures grow and its stored judgement (`run_monitoring`) is
replaced. A shadow model's scores of the same run are judged on the same resolved
accounts, so a challenger can be compared with the champion before it serves.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from features.point_in_time.spine import labels_at
from features.sources.loading import Sources
from serving.monitoring.counts import RunCounts
from serving.monitoring.drift import DriftReport, judge_drift
from serving.monitoring.realised import Realised, json_safe, number, realised
from serving.monitoring.verdict import Verdict, judge
from serving.risk import Bands
from serving.store.models import RunSummary
from serving.store.score_store import ScoreStore
from training.profile import ReferenceProfile

log = logging.getLogger(__name__)

ProfileOf = Callable[[str], ReferenceProfile | None]


@dataclass(frozen=True)
class RunJudgement:
    run: RunSummary
    verdict: Verdict
    realised: Realised
    drift: DriftReport | None
    # shadow model version -> its realised figures on the same accounts
    shadow: dict[str, Realised] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    # the scoring model's backtest (`ReferenceProfile.backtest`), what realised is held to
    backtest: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The judgement as JSON-safe data (undefined figures as null)."""
        return json_safe({"verdict": self.verdict.level, "reasons": list(self.verdict.reasons),
                          "realised": self.realised.to_dict(),
                          "drift": None if self.drift is None else self.drift.to_dict(),
                          "shadow": {k: v.to_dict() for k, v in self.shadow.items()},
                          "notes": list(self.notes),
                          "backtest": {k: dict(v) for k, v in self.backtest.items()}})

    @classmethod
    def from_stored(cls, run: RunSummary, report: dict[str, Any]) -> RunJudgement:
        return cls(run, Verdict(report["verdict"], tuple(report["reasons"])),
                   Realised.from_dict(report["realised"]),
                   None if report["drift"] is None else DriftReport.from_dict(report["drift"]),
                   {k: Realised.from_dict(v) for k, v in report.get("shadow", {}).items()},
                   tuple(report.get("notes", ())),
                   {k: {m: number(x) for m, x in v.items()}
                    for k, v in report.get("backtest", {}).items()})


def judge_run(store: ScoreStore, run: RunSummary, profile_of: ProfileOf,
              outcomes: pd.Series, bands: Bands) -> RunJudgement:
    """Judge one stored run and store the judgement (replacing an earlier one).

    The run's own stored reference profile is used; `profile_of(model version)` only
    for a run stored without one."""
    rows = pd.DataFrame([vars(s) for s in store.monitoring.scores(run.id)],
                        columns=["account_id", "probability", "band"])
    notes: list[str] = []
    counts, reference = store.monitoring.counts(run.id)
    profile = (ReferenceProfile.from_dict(reference) if reference is not None
               else profile_of(run.model_version))
    drift = None
    if profile is None:
        notes.append(f"Model version {run.model_version} carries no reference profile "
                     "(trained before monitoring): drift is not judged. Retrain to get one.")
    elif counts is None:
        notes.append("The run was scored before monitoring kept counts: drift is not "
                     "judged. Score again to get them.")
    else:
        drift = judge_drift(profile, RunCounts.from_dict(counts), bands.high, bands.medium,
                            Counter(rows["band"].astype(str)))
    outcome = realised(rows, outcomes)
    shadow: dict[str, Realised] = {}
    shadowed = store.monitoring.shadow(run.id)
    if shadowed:
        frame = pd.DataFrame([vars(s) for s in shadowed])
        frame["band"] = [bands.band(p) for p in frame["probability"]]
        for version, part in frame.groupby("model_version", sort=True):
            shadow[str(version)] = realised(part, outcomes)
    backtest = profile.backtest if profile is not None else {}
    verdict = judge(drift, outcome, backtest)
    judgement = RunJudgement(run, verdict, outcome, drift, shadow, tuple(notes), backtest)
    store.monitoring.save(run.id, verdict.level, judgement.to_dict())
    return judgement


def judge_runs(store: ScoreStore, runs: Sequence[RunSummary], sources: Sources,
               profile_of: ProfileOf, bands: Bands, grace_days: int = 30
               ) -> list[RunJudgement]:
    """Judge each of `runs` against the outcomes `sources` know of; newest first.
    `profile_of` gives a model version's profile for runs stored without one (cache it:
    it may load the model from the registry)."""
    began = time.perf_counter()
    out = []
    for run in runs:
        outcomes = labels_at(sources.subscriptions, sources.accounts["account_id"],
                                run.as_of, sources.outcomes_known_through, grace_days)
        out.append(judge_run(store, run, profile_of, outcomes, bands))
    log.info("judged %d scoring runs in %.2f s", len(out), time.perf_counter() - began)
    return out

