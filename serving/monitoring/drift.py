"""Has what the model sees moved? Each feature and the score of a run against the reference.

Every statistic is judged against its no-drift spread for this run's size: the PSI two
samples of one population exceed only 1% of the time (`training.psi.no_drift_bound`), plus
the month-to-month movement the reference itself showed (`Distribution.natural`). A feature
has *shifted* when its PSI is beyond that spread and at least 0.10, and *drifted* beyond it
and at least 0.25 (the usual rule-of-thumb levels, which alone would cry wolf on a small
book). A missing share that rose by more than both 5 points and three binomial standard
errors is a *missing jump* (a broken pipeline looks like this); text values the model never
saw are *new categories*.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from serving.monitoring.counts import RunCounts
from serving.monitoring.realised import number
from training.profile import Distribution, ReferenceProfile
from training.psi import no_drift_bound, psi

SHIFT, DRIFT = 0.10, 0.25
STABLE, SHIFTED, DRIFTED = "stable", "shifted", "drifted"
MISSING_JUMP_POINTS = 0.05
BANDS = ("high", "medium", "low")


@dataclass(frozen=True)
class FeatureDrift:
    name: str
    psi: float
    spread: float  # the PSI this run reaches with no drift (1% chance), natural swing added
    status: str
    importance_rank: int  # 1 = the feature the model leans on most
    missing_reference: float
    missing_now: float
    missing_jump: bool
    new_categories: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ScoreDrift:
    psi: float
    spread: float
    status: str
    mean_probability: float
    reference_mean_probability: float
    reference_churn_rate: float
    bands: Mapping[str, float]  # share of the run per band
    reference_bands: Mapping[str, float]


@dataclass(frozen=True)
class DriftReport:
    rows: int
    reference_rows: int
    features: tuple[FeatureDrift, ...]  # largest PSI first
    score: ScoreDrift

    def drifted(self, top: int | None = None) -> list[FeatureDrift]:
        """Features that drifted (among the `top` most important when given)."""
        return [f for f in self.features if f.status == DRIFTED
                and (top is None or f.importance_rank <= top)]

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "reference_rows": self.reference_rows,
                "features": [asdict(f) for f in self.features], "score": asdict(self.score)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftReport:
        return cls(int(data["rows"]), int(data["reference_rows"]),
                   tuple(FeatureDrift(**_figures(f, FEATURE_FIGURES)) for f in data["features"]),
                   ScoreDrift(**_figures(data["score"], SCORE_FIGURES)))


FEATURE_FIGURES = ("psi", "spread", "missing_reference", "missing_now")
SCORE_FIGURES = ("psi", "spread", "mean_probability", "reference_mean_probability",
                 "reference_churn_rate")


def _figures(data: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """Stored fields with the undefined figures (null in JSON) back as NaN."""
    return {k: number(v) if k in names else v for k, v in data.items()}


def status_of(value: float, spread: float) -> str:
    if value > spread and value >= DRIFT:
        return DRIFTED
    if value > spread and value >= SHIFT:
        return SHIFTED
    return STABLE


def spread_for(reference: Distribution, reference_rows: int, rows: int) -> float:
    """The no-drift spread of PSI for `rows` accounts against the reference."""
    return no_drift_bound(reference_rows, rows, reference.cells) + reference.natural


def missing_jumped(reference: float, now: float, rows: int) -> bool:
    noise = 3 * math.sqrt(max(reference * (1 - reference), 1e-9) / max(rows, 1))
    return now - reference > max(MISSING_JUMP_POINTS, noise)


def judge_drift(profile: ReferenceProfile, counts: RunCounts, high: float, medium: float,
                band_counts: Mapping[str, int]) -> DriftReport:
    """Drift of every feature the run counted, and of its scores, against `profile`."""
    ranks = {name: i + 1 for i, name in enumerate(profile.top_features(len(profile.importance)))}
    features = []
    for name, run in counts.features.items():
        reference = profile.features.get(name)
        if reference is None or len(run) != len(reference.shares):
            continue
        now = np.asarray(run, dtype=np.float64)
        value = psi(np.asarray(reference.shares) * profile.rows, now)
        spread = spread_for(reference, profile.rows, counts.rows)
        miss_ref, miss_now = reference.missing_share(reference.shares), reference.missing_share(now)
        features.append(FeatureDrift(
            name, value, spread, status_of(value, spread), ranks.get(name, len(ranks) + 1),
            miss_ref, miss_now, missing_jumped(miss_ref, miss_now, counts.rows),
            dict(counts.new_categories.get(name, {}))))
    features.sort(key=lambda f: (-f.psi, f.name))
    score_psi = psi(np.asarray(profile.score.shares) * profile.score_rows,
                    np.asarray(counts.score, dtype=float))
    score_spread = spread_for(profile.score, profile.score_rows, counts.rows)
    total = max(sum(band_counts.values()), 1)
    reference_bands = {"high": profile.band_share(high), "medium": profile.band_share(medium, high),
                       "low": profile.band_share(0.0, medium)}
    score = ScoreDrift(score_psi, score_spread, status_of(score_psi, score_spread),
                       counts.mean_probability, profile.mean_probability, profile.churn_rate,
                       {b: band_counts.get(b, 0) / total for b in BANDS}, reference_bands)
    return DriftReport(counts.rows, profile.rows, tuple(features), score)
