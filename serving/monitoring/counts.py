"""A scoring run in the shape of its model's reference profile: counts over the same bins.

Drift needs only how many of the run's accounts fall in each reference bin of each
feature and of the score, so that is what a run keeps (`run_profiles`, written in the
run's transaction): a few numbers per feature, whatever the size of the book, and enough
to judge the run again later (`churnlens monitor --run N`) without the sources. Text
values the model never saw are counted by value too, so "new categories" can name them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from training.profile import ReferenceProfile

NEW_CATEGORIES_KEPT = 10  # per feature, the most frequent


@dataclass(frozen=True)
class RunCounts:
    """One run's counts per reference bin; JSON in the store."""

    rows: int
    features: Mapping[str, tuple[int, ...]]
    score: tuple[int, ...]
    mean_probability: float
    new_categories: Mapping[str, Mapping[str, int]]

    def to_dict(self) -> dict[str, Any]:
        return {"format": 1, "rows": self.rows,
                "features": {k: list(v) for k, v in self.features.items()},
                "score": list(self.score), "mean_probability": self.mean_probability,
                "new_categories": {k: dict(v) for k, v in self.new_categories.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunCounts:
        return cls(int(data["rows"]),
                   {k: tuple(int(c) for c in v) for k, v in data["features"].items()},
                   tuple(int(c) for c in data["score"]), float(data["mean_probability"]),
                   {k: {str(c): int(n) for c, n in v.items()}
                    for k, v in data.get("new_categories", {}).items()})


def run_counts(profile: ReferenceProfile, features: pd.DataFrame,
               probability: np.ndarray) -> RunCounts:
    """The counts of a run's feature values (one row per account, as scored) and scores."""
    counts: dict[str, tuple[int, ...]] = {}
    unseen: dict[str, dict[str, int]] = {}
    for name, reference in profile.features.items():
        if name not in features.columns:
            continue
        column = features[name]
        counts[name] = tuple(int(c) for c in reference.counts(column))
        if reference.categories:
            text = column.dropna().astype("str")
            new = text[~text.isin(reference.categories)].value_counts()
            if len(new):
                unseen[name] = {str(k): int(v) for k, v in new.head(NEW_CATEGORIES_KEPT).items()}
    probability = np.asarray(probability, dtype=np.float64)
    return RunCounts(len(features), counts,
                     tuple(int(c) for c in profile.score.counts(probability)),
                     float(probability.mean()) if len(probability) else float("nan"), unseen)
