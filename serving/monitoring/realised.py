"""How right was a past run? Its scores against the outcomes of the terms it scored.

Renewal labels arrive months after a score. Each stored row is matched to the account's
term at the run's as_of and that term's label, exactly as a training row gets it
(`point_in_time.spine.build_spine` on the sources' subscriptions: renewed or churned once
its grace period has passed within the data, else unknown). On the resolved rows the run
gets the backtest's own metrics (`training.metrics`), observed against expected churn and
the same per band. The figures are *provisional* while some of the run's terms are open
(the early resolvers are the renewals due soonest, not a fair sample) and *final* once
every one has resolved; *pending* before any has.

Observed against expected is judged by its z-score, (observed - expected) / sqrt(sum of
p(1 - p)): beyond ±3, the probabilities are off by more than chance explains.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from training.metrics import evaluate_scores

PENDING, PROVISIONAL, FINAL = "pending", "provisional", "final"
REALISED_METRICS = ("roc_auc", "pr_auc", "brier", "ece", "lift_at_10")


@dataclass(frozen=True)
class BandOutcome:
    band: str
    resolved: int
    expected: float  # mean probability of the band's resolved rows
    observed: float  # their churn rate


@dataclass(frozen=True)
class Realised:
    status: str
    rows: int
    resolved: int
    churned: int
    metrics: Mapping[str, float] = field(default_factory=dict)
    expected_churn: float = math.nan  # mean probability of the resolved rows
    observed_churn: float = math.nan
    calibration_z: float = math.nan
    bands: tuple[BandOutcome, ...] = ()
    # probability decile -> (mean probability, churn rate, rows): the reliability diagram
    reliability: tuple[tuple[float, float, int], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["bands"] = [asdict(b) for b in self.bands]
        out["reliability"] = [list(r) for r in self.reliability]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Realised:
        return cls(str(data["status"]), int(data["rows"]), int(data["resolved"]),
                   int(data["churned"]), {k: number(v) for k, v in data["metrics"].items()},
                   number(data["expected_churn"]), number(data["observed_churn"]),
                   number(data["calibration_z"]),
                   tuple(BandOutcome(str(b["band"]), int(b["resolved"]), number(b["expected"]),
                                     number(b["observed"])) for b in data["bands"]),
                   tuple((number(a), number(b), int(c)) for a, b, c in data["reliability"]))


def number(value: Any) -> float:
    """A stored figure: JSON keeps no NaN, so an undefined one is stored as null."""
    return math.nan if value is None else float(value)


def json_safe(value: Any) -> Any:
    """`value` with every NaN or infinite float replaced by None, for JSON columns."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def realised(rows: pd.DataFrame, outcomes: pd.Series) -> Realised:
    """`rows` (account_id, probability, band) of one run judged on `outcomes`."""
    label = outcomes.reindex(rows["account_id"].astype(str)).to_numpy(dtype=object)
    known = np.array([v is not pd.NA and v is not None for v in label], dtype=bool)
    total, resolved = len(rows), int(known.sum())
    if resolved == 0:
        return Realised(PENDING, total, 0, 0)
    y = np.array([bool(v) for v in label[known]], dtype=np.float64)
    p = rows["probability"].to_numpy(np.float64)[known]
    scores = evaluate_scores(y, p)
    expected, observed = float(p.mean()), float(y.mean())
    variance = float((p * (1 - p)).sum())
    z = (y.sum() - p.sum()) / math.sqrt(variance) if variance > 0 else math.nan
    bands = []
    band = rows["band"].astype(str).to_numpy()[known]
    for name in ("high", "medium", "low"):
        mine = band == name
        if mine.any():
            bands.append(BandOutcome(name, int(mine.sum()), float(p[mine].mean()),
                                     float(y[mine].mean())))
    return Realised(FINAL if resolved == total else PROVISIONAL, total, resolved,
                    int(y.sum()), {m: scores[m] for m in REALISED_METRICS}, expected,
                    observed, float(z), tuple(bands), reliability(y, p))


def reliability(y: np.ndarray, p: np.ndarray, bins: int = 10) -> tuple[tuple[float, float, int],
                                                                       ...]:
    """Mean probability, churn rate and rows of each equal-width probability bin."""
    which = np.clip((p * bins).astype(int), 0, bins - 1)
    return tuple((float(p[which == b].mean()), float(y[which == b].mean()),
                  int((which == b).sum())) for b in range(bins) if (which == b).any())
