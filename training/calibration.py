"""Probability calibration fitted on held-out time, stored as plain numbers.

A calibrated score of 0.3 should mean that about 30% of such accounts do not renew. The
calibrator maps the booster's raw score to that probability; it is kept as arrays (the
isotonic step function, or the sigmoid's two coefficients) so that serving needs neither
scikit-learn nor pickles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

TIE_BREAK = 2e-6


@dataclass(frozen=True)
class Calibrator:
    method: Literal["isotonic", "sigmoid"]
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()
    slope: float = 1.0
    intercept: float = 0.0

    def apply(self, raw_score: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for raw (log-odds) booster scores.

        The isotonic map is a step function, so whole groups of accounts would share one
        probability and a ranked list could not order them. A tiny term (at most 1e-6)
        that rises with the raw score breaks those ties in the booster's order without
        moving any probability by a visible amount.
        """
        raw = np.asarray(raw_score, dtype=np.float64)
        if self.method == "sigmoid":
            return 1.0 / (1.0 + np.exp(-(self.slope * raw + self.intercept)))
        tie_break = TIE_BREAK * (1.0 / (1.0 + np.exp(-raw)) - 0.5)
        return np.clip(np.interp(raw, self.x, self.y) + tie_break, 0.0, 1.0)

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "x": list(self.x), "y": list(self.y),
                "slope": self.slope, "intercept": self.intercept}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibrator:
        return cls(data["method"], tuple(data["x"]), tuple(data["y"]), data["slope"],
                   data["intercept"])


def fit_calibrator(raw_score: np.ndarray, outcome: np.ndarray,
                   method: Literal["isotonic", "sigmoid"]) -> Calibrator:
    """Fit on held-out rows only: the caller passes validation-period scores."""
    raw = np.asarray(raw_score, dtype=np.float64)
    y = np.asarray(outcome, dtype=np.float64)
    if method == "sigmoid":
        from sklearn.linear_model import LogisticRegression

        fitted = LogisticRegression(C=1e6).fit(raw.reshape(-1, 1), y)
        return Calibrator("sigmoid", slope=float(fitted.coef_[0, 0]),
                          intercept=float(fitted.intercept_[0]))
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(out_of_bounds="clip", y_min=1e-4, y_max=1 - 1e-4).fit(raw, y)
    return Calibrator("isotonic", tuple(map(float, iso.X_thresholds_)),
                      tuple(map(float, iso.y_thresholds_)))
