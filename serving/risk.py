"""One scoring function for the API and the batch job: features in, `RiskScore`s out.

Input is validated against the model's feature contract (never a feature list of
serving's own), probabilities are the model's calibrated ones, and reasons are the
features that pushed the account's risk up most, each said in words by the feature
catalog with the account's own numbers. Contributions are exact (TreeSHAP) and are
also summed per family so a CSM sees "mostly usage" or "mostly support" at a glance.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from features.point_in_time.catalog import render_reason
from training.model import ChurnRiskModel

TOP_REASONS = 5
MODEL_NAME = "churnlens"
# Families a CSM can act on come first among the reasons; contract facts (term length,
# plan, industry...) explain risk too, but nobody can change them this quarter. They
# still count in the family totals and fill the reasons when too few others push.
ACTIONABLE_FAMILIES = frozenset({"usage", "support", "sentiment"})


@dataclass(frozen=True)
class Bands:
    """Risk bands by calibrated probability: high at or above `high`, medium above `medium`."""

    high: float = 0.30
    medium: float = 0.15

    def __post_init__(self) -> None:
        if not 0 < self.medium < self.high < 1:
            raise ValueError(f"risk bands need 0 < medium < high < 1; got medium "
                             f"{self.medium}, high {self.high}")

    def band(self, probability: float) -> str:
        if probability >= self.high:
            return "high"
        if probability >= self.medium:
            return "medium"
        return "low"


@dataclass(frozen=True)
class Reason:
    """One feature's push on the risk, in log-odds, with its sentence."""

    feature: str
    family: str
    value: Any
    contribution: float
    text: str


@dataclass(frozen=True)
class RiskScore:
    account_id: str
    as_of: dt.date
    probability: float
    band: str
    model_name: str
    model_version: str
    reasons: tuple[Reason, ...]
    families: Mapping[str, float] = field(default_factory=dict)
    # Every feature's contribution but the zeros (features no tree of the model uses),
    # when asked for: batch runs store it, so "the driver that moved most" compares all
    # features, not only each run's top reasons.
    contributions: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ScoringRequest:
    """What the caller knows about one account at one date."""

    account_id: str
    as_of: dt.date
    features: Mapping[str, Any]


def score_requests(model: ChurnRiskModel, version: str, requests: Sequence[ScoringRequest],
                   bands: Bands = Bands(), top: int = TOP_REASONS,
                   strict: bool = True) -> list[RiskScore]:
    """Score and explain feature rows; raises FeatureContractError on bad features."""
    for request in requests:
        model.contract.check_columns(list(request.features), strict=strict)
    matrix = model.contract.encode_records([r.features for r in requests])
    return explain_matrix(model, version, matrix, [r.features for r in requests],
                          [(r.account_id, r.as_of) for r in requests], bands, top)


def explain_matrix(model: ChurnRiskModel, version: str, matrix: np.ndarray,
                   values: Sequence[Mapping[str, Any]], keys: Sequence[tuple[str, dt.date]],
                   bands: Bands = Bands(), top: int = TOP_REASONS,
                   num_threads: int = 1, all_contributions: bool = False) -> list[RiskScore]:
    """Scores for an encoded matrix; `values` gives each row's raw feature values for the
    sentences, `keys` its (account_id, as_of). `all_contributions` fills each score's
    `contributions` with every feature's."""
    explanation = model.explain_matrix(matrix, num_threads=num_threads)
    # TreeSHAP contributions plus the bias are the raw score: no second booster pass.
    raw = explanation.contributions.sum(axis=1) + explanation.bias
    probability = model.calibrator.apply(raw)
    names = model.contract.names
    families = model.contract.families
    by_family = explanation.by_family(model.contract)
    out = []
    for i, (account_id, as_of) in enumerate(keys):
        contrib = explanation.contributions[i]
        row = values[i]
        reasons = tuple(
            Reason(names[j], families.get(names[j], "other"), plain(row.get(names[j])),
                   float(contrib[j]), render_reason(names[j], row))
            for j in _reason_order(contrib, names, families, top)
        )
        out.append(RiskScore(
            account_id=account_id, as_of=as_of, probability=float(probability[i]),
            band=bands.band(float(probability[i])), model_name=MODEL_NAME,
            model_version=version, reasons=reasons,
            families={f: float(v[i]) for f, v in sorted(by_family.items())},
            contributions=({n: c for n, c in zip(names, contrib.tolist(), strict=True) if c}
                           if all_contributions else {}),
        ))
    return out


def _reason_order(contrib: np.ndarray, names: Sequence[str], families: Mapping[str, str],
                  top: int) -> list[int]:
    """The features that raised this account's risk most, actionable families first."""
    pushing = [j for j in np.argsort(-contrib, kind="stable") if contrib[j] > 0]
    actionable = [j for j in pushing if families.get(names[j]) in ACTIONABLE_FAMILIES]
    rest = [j for j in pushing if families.get(names[j]) not in ACTIONABLE_FAMILIES]
    return [int(j) for j in (actionable + rest)[:top]]


def plain(value: Any) -> Any:
    """JSON-friendly: numpy scalars become Python numbers, NaN becomes None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value
