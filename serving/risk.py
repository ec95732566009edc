"""One scoring function for the API and the batch job: features in, `RiskScore`s out.

Input is validated against the model's feature contract (never a feature list of
serving's own), probabilities are the model's calibrated ones, and reasons are the
signals that pushed the account's risk up most against their usual push
(`point_in_time.signals`: correlated features add up to one fact), each said in words by
its most telling feature with the account's own numbers and what is normal for renewing
accounts of its segment. Contributions are exact (TreeSHAP) and are also summed per
family so a CSM sees "mostly usage" or "mostly support" at a glance.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from features.point_in_time.catalog import render_reason
from features.point_in_time.signals import CONTEXT, signal_or_family

if TYPE_CHECKING:
    # Annotations only: the score store names this module's types, and importing the store
    # must not load LightGBM (`churnlens monitor` never needs a booster).
    from training.model import ChurnRiskModel

TOP_REASONS = 5  # signals a CSM can act on; pushing context signals come on top
MODEL_NAME = "churnlens"


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
    """One signal's push on the risk, in log-odds, said by its most telling feature.

    `contribution` is the signal's whole push (the sum over its features); `feature`,
    `value` and `text` are the feature that pushed most within it. `context` marks the
    contract and account facts a CSM cannot act on (`point_in_time.signals.CONTEXT`).
    `reference` is the feature's typical value among renewing accounts of the account's
    segment (`reference_group`; "*" for all segments), from the model's training rows;
    the text ends with it. Both are empty when the model carries no reference.
    """

    feature: str
    family: str
    value: Any
    contribution: float
    text: str
    signal: str = ""
    context: bool = False
    reference: Any = None
    reference_group: str = ""


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
    labels, codes = _signals(tuple(names), tuple(families.get(n, "other") for n in names))
    spreads = model.contract.signal_spreads
    scale = np.array([spreads.get(str(label), 1.0) for label in labels]) if spreads else None
    out = []
    for i, (account_id, as_of) in enumerate(keys):
        contrib = explanation.contributions[i]
        row = values[i]
        reasons = tuple(
            _reason(model, names[j], families.get(names[j], "other"), row, total,
                    str(labels[codes[j]]))
            for j, total in signal_reasons(contrib, labels, codes, top, scale)
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


def _reason(model: ChurnRiskModel, name: str, family: str, row: Mapping[str, Any],
            total: float, signal: str) -> Reason:
    reference = model.contract.reference(name, row.get("segment"))
    group, typical = reference if reference is not None else ("", None)
    return Reason(name, family, plain(row.get(name)), total,
                  render_reason(name, row, reference), signal, signal in CONTEXT,
                  plain(typical), group)


@functools.lru_cache(maxsize=16)
def _signals(names: tuple[str, ...], families: tuple[str, ...]
             ) -> tuple[np.ndarray, np.ndarray]:
    """(signal labels, each feature's code into them), once per model: matching names is
    too slow per request. A feature the catalog no longer knows keeps its family."""
    out = [signal_or_family(name, family) for name, family in zip(names, families, strict=True)]
    labels, codes = np.unique(np.array(out), return_inverse=True)
    return labels, codes


def signal_reasons(contrib: np.ndarray, labels: np.ndarray, codes: np.ndarray, top: int,
                   scale: np.ndarray | None = None) -> list[tuple[int, float]]:
    """(voice feature, signal total) of the signals that raised the risk most.

    Contributions add up per signal, so correlated readings of one fact make one reason;
    each is voiced by its feature that pushed most. Signals rank by their total against
    `scale`, each signal's usual spread over the training rows (`FeatureContract.
    signal_spreads`; all 1 without it): a push that is rare for its signal says more
    than the everyday push of the signal that follows overall health. Up to `top`
    signals a CSM can act on come first; then every context signal (contract and account
    facts) that pushes, so the page's family totals and its reasons always agree.
    """
    totals = np.bincount(codes, weights=contrib, minlength=len(labels))
    strength = totals if scale is None else totals / scale
    order = np.argsort(-contrib, kind="stable")
    present, first = np.unique(codes[order], return_index=True)
    voice = np.zeros(len(labels), dtype=np.int64)
    voice[present] = order[first]  # each signal's strongest feature
    pushing = sorted((int(k) for k in present if totals[k] > 0 and contrib[voice[k]] > 0),
                     key=lambda k: (str(labels[k]) in CONTEXT, -strength[k], str(labels[k])))
    acting = [k for k in pushing if str(labels[k]) not in CONTEXT][:top]
    context = [k for k in pushing if str(labels[k]) in CONTEXT]
    return [(int(voice[k]), float(totals[k])) for k in acting + context]


def plain(value: Any) -> Any:
    """JSON-friendly: numpy scalars become Python numbers, NaN becomes None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value
