"""One word per run for a data scientist: ok, watch, or retrain, with the reasons.

*Retrain* when the model no longer matches the world: the score's distribution drifted
(PSI at least 0.25 and beyond its no-drift spread); one of the model's most important
features drifted likewise; or, once all of the run's renewals have resolved, its realised
ROC AUC fell below the backtest mean by more than three standard deviations, or its
observed churn is more than three standard errors from its expected churn (calibration
off). The AUC's deviation counts both the spread between backtest folds and the run's own
sampling error (Hanley and McNeil's standard error for its churned and renewed counts), so
a small book needs a larger fall.

*Watch* for anything that may become one: a shift (PSI 0.10-0.25 beyond the spread) of the
score or an important feature, a drift of one of the ten most important features after
the first five, a jump in a missing share, text values the model never saw, or the
realised figures above while still provisional. Otherwise *ok*. Drift of features the
model barely uses stays in the drift table and does not move the verdict.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from serving.monitoring.drift import DRIFTED, SHIFTED, DriftReport
from serving.monitoring.realised import FINAL, PENDING, Realised

OK, WATCH, RETRAIN = "ok", "watch", "retrain"
LEVELS = (OK, WATCH, RETRAIN)
TOP_FEATURES = 5  # drift of these says retrain
WATCHED_FEATURES = 10  # drift of these says watch
SIGMAS = 3.0
MIN_RESOLVED, MIN_CHURNED = 100, 10  # fewer resolved rows say nothing about the AUC


@dataclass(frozen=True)
class Verdict:
    level: str
    reasons: tuple[str, ...] = field(default_factory=tuple)

    @property
    def code(self) -> int:
        """0 ok, 1 watch, 2 retrain (for gauges and MLflow)."""
        return LEVELS.index(self.level)


def auc_standard_error(auc: float, churned: int, renewed: int) -> float:
    """Hanley and McNeil's (1982) standard error of an ROC AUC."""
    if churned < 1 or renewed < 1 or not math.isfinite(auc):
        return math.inf
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    variance = (auc * (1 - auc) + (churned - 1) * (q1 - auc * auc)
                + (renewed - 1) * (q2 - auc * auc)) / (churned * renewed)
    return math.sqrt(max(variance, 0.0))


def judge(drift: DriftReport | None, realised: Realised,
          backtest: Mapping[str, Mapping[str, float]]) -> Verdict:
    """The run's verdict from its drift and realised performance (see the module doc)."""
    retrain: list[str] = []
    watch: list[str] = []
    if drift is not None:
        score = drift.score
        line = (f"score PSI {score.psi:.3f} (no-drift spread {score.spread:.3f}); mean "
                f"probability {score.mean_probability:.3f} against "
                f"{score.reference_mean_probability:.3f}")
        if score.status == DRIFTED:
            retrain.append(f"The scores drifted: {line}.")
        elif score.status == SHIFTED:
            watch.append(f"The scores shifted: {line}.")
        for f in drift.features:
            text = (f"{f.name} (importance #{f.importance_rank}) PSI {f.psi:.3f}, no-drift "
                    f"spread {f.spread:.3f}")
            important = f.importance_rank <= TOP_FEATURES
            if f.status == DRIFTED and important:
                retrain.append(f"An important feature drifted: {text}.")
            elif (f.status == DRIFTED and f.importance_rank <= WATCHED_FEATURES) or (
                    f.status == SHIFTED and important):
                watch.append(f"{'Drifted' if f.status == DRIFTED else 'Shifted'}: {text}.")
            if f.missing_jump:
                watch.append(f"{f.name} is missing for {f.missing_now:.0%} of accounts "
                             f"(reference {f.missing_reference:.0%}): check its source.")
            if f.new_categories:
                values = ", ".join(sorted(f.new_categories)[:5])
                watch.append(f"{f.name} has values the model never saw: {values}.")
    _judge_realised(realised, backtest, retrain, watch)
    if retrain:
        return Verdict(RETRAIN, tuple(retrain + watch))
    return Verdict(WATCH, tuple(watch)) if watch else Verdict(OK)


def _judge_realised(realised: Realised, backtest: Mapping[str, Mapping[str, float]],
                    retrain: list[str], watch: list[str]) -> None:
    if realised.status == PENDING or realised.resolved < MIN_RESOLVED \
            or realised.churned < MIN_CHURNED:
        return
    into = retrain if realised.status == FINAL else watch
    when = "" if realised.status == FINAL else " so far (provisional)"
    auc = realised.metrics.get("roc_auc", math.nan)
    reference = backtest.get("roc_auc")
    if reference is not None and math.isfinite(auc):
        renewed = realised.resolved - realised.churned
        sigma = math.hypot(reference.get("std", 0.0),
                           auc_standard_error(auc, realised.churned, renewed))
        floor = reference["mean"] - SIGMAS * sigma
        if auc < floor:
            into.append(f"Realised ROC AUC {auc:.3f}{when} is below the backtest's "
                        f"{reference['mean']:.3f} - 3σ = {floor:.3f}.")
    if math.isfinite(realised.calibration_z) and abs(realised.calibration_z) > SIGMAS:
        into.append(f"Calibration is off{when}: {realised.observed_churn:.1%} churned "
                    f"against {realised.expected_churn:.1%} expected (z = "
                    f"{realised.calibration_z:+.1f}).")
