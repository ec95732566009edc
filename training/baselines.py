"""The two baselines the model must beat on the same out-of-time rows.

1. A rule-based health score as CS teams build them: points for usage, support and
   sentiment signals, summed to 0-100 and banded red/yellow/green. Its risk (100 -
   health) is calibrated on the validation rows like the model, so Brier and log loss
   compare fairly.
2. A regularised logistic regression on the same features (non-negative counts and
   durations log-transformed, median-imputed with missing indicators, standardised;
   categoricals one-hot encoded).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from training.calibration import Calibrator, fit_calibrator

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HealthRule:
    """Points for one signal: `points[i]` when the value falls in bin i of `edges`.

    Bins are (-inf, e0], (e0, e1], ..., (e_last, inf); a missing value scores `missing`.
    A categorical signal is first turned into its position in `levels`.
    """

    feature: str
    family: str
    edges: tuple[float, ...]
    points: tuple[float, ...]
    missing: float
    levels: tuple[str, ...] = ()

    def score(self, values: pd.Series) -> np.ndarray:
        if self.levels:
            position = {level: float(i) for i, level in enumerate(self.levels)}
            x = values.astype("object").map(position).astype("float64").to_numpy()
        else:
            x = values.astype("float64").to_numpy()
        which = np.searchsorted(np.asarray(self.edges), x, side="left")
        out = np.asarray(self.points, dtype=np.float64)[np.clip(which, 0, len(self.points) - 1)]
        return np.where(np.isnan(x), self.missing, out)


# A typical CS health score: 45 points usage, 30 support, 25 sentiment.
HEALTH_RULES: tuple[HealthRule, ...] = (
    HealthRule("license_utilisation_28d", "usage", (0.25, 0.5), (0, 10, 20), 5),
    HealthRule("active_users_trend_pct", "usage", (-30.0, -10.0), (0, 7, 15), 7),
    HealthRule("days_since_last_login", "usage", (7.0, 21.0), (10, 5, 0), 0),
    HealthRule("open_high_urgent_tickets", "support", (0.0, 1.0), (15, 7, 0), 15),
    HealthRule("tickets_opened_30d", "support", (2.0, 5.0), (10, 5, 0), 10),
    HealthRule("escalations_90d", "support", (0.0,), (5, 0), 5),
    HealthRule("nps_latest", "sentiment", (6.0, 8.0), (0, 8, 15), 8),
    HealthRule("csm_sentiment_latest", "sentiment", (0.0, 1.0), (0, 5, 10), 5,
               levels=("red", "yellow", "green")),
)
GREEN_AT, YELLOW_AT = 70.0, 40.0


def health_score(frame: pd.DataFrame, rules: Sequence[HealthRule] = HEALTH_RULES
                 ) -> np.ndarray:
    """Health 0-100 (higher is healthier), rescaled over the rules whose signal exists."""
    usable = [r for r in rules if r.feature in frame.columns]
    skipped = [r.feature for r in rules if r.feature not in frame.columns]
    if skipped:
        log.info("health score: no %s in the data; scaling over the rest", ", ".join(skipped))
    if not usable:
        return np.full(len(frame), 50.0)
    total = sum(r.score(frame[r.feature]) for r in usable)
    best = sum(max(r.points) for r in usable)
    return 100.0 * np.asarray(total, dtype=np.float64) / best


def health_band(health: np.ndarray) -> np.ndarray:
    return np.where(health >= GREEN_AT, "green", np.where(health >= YELLOW_AT, "yellow", "red"))


@dataclass
class HealthScoreBaseline:
    calibrator: Calibrator | None = None

    def fit(self, frame: pd.DataFrame, y: np.ndarray, method: str = "isotonic"
            ) -> HealthScoreBaseline:
        """Calibrate risk = 100 - health on held-out rows; the points are not learnt."""
        risk = 100.0 - health_score(frame)
        self.calibrator = fit_calibrator(risk, y, "sigmoid" if method == "sigmoid"
                                         else "isotonic")
        return self

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        assert self.calibrator is not None, "fit() the baseline before predicting"
        return self.calibrator.apply(100.0 - health_score(frame))


class LogisticBaseline:
    """L2-regularised logistic regression over the model's features, prepared as
    practitioners do: counts, durations and other non-negative columns that reach past 1
    are log-transformed (`log1p`; sessions and days since are heavy-tailed, and a linear
    model weighs their extremes far too much otherwise), every numeric column is
    median-imputed with a missing indicator and standardised, categoricals one-hot
    encoded. Which columns are logged is decided on the training rows."""

    def __init__(self, features: Sequence[str], categorical: Sequence[str], seed: int = 0,
                 c: float = 0.1) -> None:
        self.features = list(features)
        self.categorical = [f for f in features if f in set(categorical)]
        self.seed, self.c = seed, c
        self.logged: list[str] = []
        self.pipeline: Any = None

    def _pipeline(self, x: pd.DataFrame) -> Any:
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

        numeric = [f for f in self.features if f not in set(self.categorical)]
        self.logged = [f for f in numeric if x[f].notna().any()
                       and x[f].min() >= 0 and x[f].max() > 1]
        plain = [f for f in numeric if f not in set(self.logged)]

        def scaled(*steps: Any) -> Any:
            return make_pipeline(SimpleImputer(strategy="median", add_indicator=True,
                                               keep_empty_features=True), *steps,
                                 StandardScaler())

        prep = ColumnTransformer([
            ("log", scaled(FunctionTransformer(np.log1p)), self.logged),
            ("num", scaled(), plain),
            ("cat", OneHotEncoder(handle_unknown="ignore", min_frequency=20), self.categorical),
        ])
        return make_pipeline(prep, LogisticRegression(C=self.c, max_iter=3000,
                                                      random_state=self.seed))

    def _x(self, frame: pd.DataFrame) -> pd.DataFrame:
        x = frame[self.features].copy()
        for col in self.categorical:
            x[col] = x[col].astype("str").fillna("(missing)")
        for col in x.columns.difference(self.categorical):
            x[col] = x[col].astype("float64")
        return x

    def fit(self, frame: pd.DataFrame, y: np.ndarray) -> LogisticBaseline:
        x = self._x(frame)
        self.pipeline = self._pipeline(x)
        self.pipeline.fit(x, y)
        return self

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        assert self.pipeline is not None, "fit() the baseline before predicting"
        return np.asarray(self.pipeline.predict_proba(self._x(frame))[:, 1])
