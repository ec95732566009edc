"""The reference profile that travels with a model: what its inputs and scores looked like.

Drift means "unlike what the model knew", so the reference is the newest snapshots of its
training set (`training.pipeline.attach_profile` picks them): every account active in
each of those months, as a scoring run holds them. Per numeric feature it keeps bins and
their shares plus a missing share; per categorical feature the share of each category,
missing and unseen. The score gets the same, from probabilities the model gave rows it
had not learnt from, with its percentiles (for band shares at any thresholds), its mean
and the out-of-time churn rate.

A numeric feature's bins are cut where the model cuts it: at the split thresholds its
trees use (up to nine of them, those nearest the reference's deciles). A change the model
cannot see is then no drift to it: term lengths of 365 days instead of 366 once the leap
year has passed move every decile-binned PSI and none of the model's decisions. A feature
the model never splits on has one bin (and the missing one).

A statistic also varies from month to month without anything being wrong (seasonality,
the mix of renewals due). So the reference is cut into its as_of months, each month's PSI
against the other months is measured, and what exceeds sampling noise is kept per feature
as `natural`: the part of the no-drift spread that sample size does not explain
(`training.psi`).

The profile is plain JSON inside the model's metadata file; a scoring run turns its own
rows into counts over the same bins (`Distribution.counts`), which is all drift needs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd

from training.contract import FeatureContract
from training.psi import no_drift_bound, psi

NUMERIC, CATEGORICAL = "numeric", "categorical"
QUANTILES = np.linspace(0.1, 0.9, 9)  # decile edges
MISSING, UNSEEN = "missing", "unseen"


@dataclass(frozen=True)
class Distribution:
    """One feature's (or the score's) reference distribution over fixed bins.

    Numeric bins are (-inf, e0], (e0, e1], …, (e_last, inf), then missing. Categorical
    bins are the model's categories in code order, then missing, then unseen.
    """

    kind: str
    shares: tuple[float, ...]
    edges: tuple[float, ...] = ()
    categories: tuple[str, ...] = ()
    natural: float = 0.0  # month-to-month PSI beyond sampling noise (see module doc)

    @property
    def cells(self) -> int:
        """Bins a sample can fall in: those non-empty in the reference, plus unseen."""
        used = sum(1 for s in self.shares if s > 0)
        return used + (1 if self.kind == CATEGORICAL and self.shares[-1] == 0 else 0)

    def counts(self, values: pd.Series | np.ndarray) -> np.ndarray:
        """How many of `values` fall in each bin (numbers for numeric, text for
        categorical; null is missing, a category the model never saw is unseen)."""
        if self.kind == CATEGORICAL:
            text = pd.Series(values, dtype="object").reset_index(drop=True)
            missing = text.isna().to_numpy()
            k = len(self.categories)
            which = np.full(len(text), k, dtype=np.int64)  # missing
            codes = pd.Index(self.categories).get_indexer(text[~missing].astype(str))
            which[~missing] = np.where(codes < 0, k + 1, codes)  # unseen, else the category
            return np.bincount(which, minlength=k + 2)
        numbers = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan)
        missing = np.isnan(numbers)
        which = np.searchsorted(np.asarray(self.edges), numbers[~missing], side="left")
        out = np.bincount(which, minlength=len(self.edges) + 2)
        out[len(self.edges) + 1] = missing.sum()
        return out

    def missing_share(self, counts: np.ndarray | Sequence[float]) -> float:
        """The missing bin's share of `counts` (or of shares)."""
        values = np.asarray(counts, dtype=np.float64)
        total = values.sum()
        slot = -2 if self.kind == CATEGORICAL else -1
        return float(values[slot] / total) if total else 0.0

    def labels(self) -> list[str]:
        """A short name per bin, for tables and plots."""
        if self.kind == CATEGORICAL:
            return [*self.categories, MISSING, UNSEEN]
        edges = [f"{e:.4g}" for e in self.edges]
        if not edges:
            return ["all", MISSING]
        return [f"≤ {edges[0]}", *(f"{a}–{b}" for a, b in pairwise(edges)),
                f"> {edges[-1]}", MISSING]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "shares": list(self.shares),
                               "natural": self.natural}
        if self.kind == CATEGORICAL:
            out["categories"] = list(self.categories)
        else:
            out["edges"] = list(self.edges)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Distribution:
        return cls(str(data["kind"]), tuple(float(s) for s in data["shares"]),
                   tuple(float(e) for e in data.get("edges", ())),
                   tuple(str(c) for c in data.get("categories", ())),
                   float(data.get("natural", 0.0)))


@dataclass(frozen=True)
class ReferenceProfile:
    """Everything monitoring compares a scoring run with (see the module doc)."""

    rows: int
    window: tuple[str, str]  # the reference rows' first and last as_of (ISO dates)
    features: Mapping[str, Distribution]
    importance: Mapping[str, float]  # mean |contribution| on the test rows
    score: Distribution
    score_rows: int
    score_percentiles: tuple[float, ...]  # the 0th..100th percentile of the scores
    mean_probability: float
    churn_rate: float  # of the score's reference rows
    # metric -> {"mean", "std", "folds"}: the model's out-of-time backtest
    backtest: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def top_features(self, k: int = 5) -> list[str]:
        """The `k` features the model leans on most."""
        ranked = sorted(self.importance.items(), key=lambda item: (-item[1], item[0]))
        return [name for name, _ in ranked[:k] if name in self.features]

    def band_share(self, low: float, high: float = math.inf) -> float:
        """The reference share of scores in [low, high), read off the percentiles."""
        grid = np.linspace(0.0, 1.0, len(self.score_percentiles))
        p = np.asarray(self.score_percentiles)

        def below(x: float) -> float:
            return 1.0 if x > p[-1] else float(np.interp(x, p, grid)) if x >= p[0] else 0.0

        return below(high) - below(low)

    def to_dict(self) -> dict[str, Any]:
        return {"format": 1, "rows": self.rows, "window": list(self.window),
                "features": {k: v.to_dict() for k, v in self.features.items()},
                "importance": dict(self.importance), "score": self.score.to_dict(),
                "score_rows": self.score_rows,
                "score_percentiles": list(self.score_percentiles),
                "mean_probability": self.mean_probability, "churn_rate": self.churn_rate,
                "backtest": {k: dict(v) for k, v in self.backtest.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReferenceProfile:
        return cls(int(data["rows"]), (str(data["window"][0]), str(data["window"][1])),
                   {k: Distribution.from_dict(v) for k, v in data["features"].items()},
                   {k: float(v) for k, v in data["importance"].items()},
                   Distribution.from_dict(data["score"]), int(data["score_rows"]),
                   tuple(float(p) for p in data["score_percentiles"]),
                   float(data["mean_probability"]), float(data["churn_rate"]),
                   {k: {m: float(x) for m, x in v.items()}
                    for k, v in data.get("backtest", {}).items()})


def decile_edges(values: np.ndarray) -> tuple[float, ...]:
    """The deciles of `values` (NaN left out), ties merged: bins for the score."""
    present = values[~np.isnan(values)]
    return tuple(float(e) for e in np.unique(np.quantile(present, QUANTILES))) \
        if len(present) else ()


def model_edges(values: np.ndarray, thresholds: Sequence[float]) -> tuple[float, ...]:
    """Up to nine of the model's split thresholds on a feature: for each decile of the
    reference `values`, the threshold with the nearest share of values at or below it."""
    cuts = np.unique(np.asarray(thresholds, dtype=np.float64))
    if len(cuts) <= len(QUANTILES):
        return tuple(float(c) for c in cuts)
    present = np.sort(values[~np.isnan(values)])
    if not len(present):
        return ()
    below = np.searchsorted(present, cuts, side="right") / len(present)
    picked = {int(np.argmin(np.abs(below - q))) for q in QUANTILES}
    return tuple(float(cuts[i]) for i in sorted(picked))


def split_thresholds(booster: Any) -> dict[str, list[float]]:
    """Every numeric split threshold of the booster's trees, by feature name."""
    dump = booster.dump_model()
    names = dump["feature_names"]
    out: dict[str, list[float]] = {}
    stack = [tree["tree_structure"] for tree in dump["tree_info"]]
    while stack:
        node = stack.pop()
        if "split_feature" not in node:
            continue
        if node.get("decision_type") == "<=":
            out.setdefault(names[node["split_feature"]], []).append(float(node["threshold"]))
        stack += [node["left_child"], node["right_child"]]
    return out


def numeric_distribution(values: np.ndarray, months: np.ndarray,
                         edges: Sequence[float] | None = None) -> Distribution:
    """Bins of `values` at `edges` (default: the deciles; NaN is missing), with the
    month-to-month spread."""
    shell = Distribution(NUMERIC, (), tuple(edges) if edges is not None
                         else decile_edges(values))
    return _with_spread(shell, values, months)


def categorical_distribution(values: pd.Series, categories: Sequence[str],
                             months: np.ndarray) -> Distribution:
    """Shares of each of the model's categories, missing and unseen (none, here)."""
    shell = Distribution(CATEGORICAL, (), categories=tuple(categories))
    return _with_spread(shell, values, months)


def _with_spread(shell: Distribution, values: Any, months: np.ndarray) -> Distribution:
    counts = shell.counts(values)
    total = counts.sum()
    shares = tuple(float(c / total) if total else 0.0 for c in counts)
    natural = 0.0
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    series = series.reset_index(drop=True)
    for month in np.unique(months):
        mine = months == month
        if mine.all():
            break
        inside, outside = shell.counts(series[mine]), shell.counts(series[~mine])
        cells = int(((inside + outside) > 0).sum())
        bound = no_drift_bound(int(inside.sum()), int(outside.sum()), cells)
        natural = max(natural, psi(outside, inside) - bound)
    return Distribution(shell.kind, shares, shell.edges, shell.categories, natural)


def build_profile(frame: pd.DataFrame, rows: np.ndarray, contract: FeatureContract,
                  probability: np.ndarray, *, thresholds: Mapping[str, Sequence[float]],
                  importance: Mapping[str, float], churn_rate: float,
                  backtest: Mapping[str, Mapping[str, float]]) -> ReferenceProfile:
    """The profile of `frame`'s `rows` (positions) for a model with `contract`.

    `probability` are the model's scores of those rows, from boosters that did not learn
    from them; `thresholds` its split thresholds per feature (`split_thresholds`);
    `churn_rate` the observed churn rate out of time (the cutoff test rows').
    """
    if not len(rows):
        raise ValueError("a reference profile needs at least one row")
    part = frame.iloc[rows]
    months = pd.to_datetime(part["as_of"], utc=True).dt.strftime("%Y-%m").to_numpy()
    matrix = contract.encode(part)
    features: dict[str, Distribution] = {}
    for j, name in enumerate(contract.names):
        if name in contract.categories:
            column = part[name].astype("object").where(part[name].notna(), None)
            features[name] = categorical_distribution(column, contract.categories[name],
                                                      months)
        else:
            edges = model_edges(matrix[:, j], thresholds.get(name, ()))
            features[name] = numeric_distribution(matrix[:, j], months, edges)
    probability = np.asarray(probability, dtype=np.float64)
    as_of = pd.to_datetime(part["as_of"], utc=True)
    return ReferenceProfile(
        rows=len(rows), window=(as_of.min().date().isoformat(), as_of.max().date().isoformat()),
        features=features, importance={k: float(v) for k, v in importance.items()},
        score=numeric_distribution(probability, months), score_rows=len(rows),
        score_percentiles=tuple(float(p) for p in np.quantile(probability,
                                                              np.linspace(0, 1, 101))),
        mean_probability=float(probability.mean()), churn_rate=float(churn_rate),
        backtest={k: dict(v) for k, v in backtest.items()})
