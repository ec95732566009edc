"""The verdict from hand-built drift and realised figures, and the AUC's standard error."""

from __future__ import annotations

import math

import pytest

from serving.monitoring.drift import DRIFTED, SHIFTED, STABLE, DriftReport, FeatureDrift, ScoreDrift
from serving.monitoring.realised import FINAL, PENDING, PROVISIONAL, Realised
from serving.monitoring.verdict import OK, RETRAIN, WATCH, auc_standard_error, judge

BACKTEST = {"roc_auc": {"mean": 0.80, "std": 0.01, "folds": 3.0}}


def feature(name: str, status: str = STABLE, rank: int = 1, missing_jump: bool = False,
            new: dict[str, int] | None = None) -> FeatureDrift:
    value = {STABLE: 0.01, SHIFTED: 0.15, DRIFTED: 0.4}[status]
    return FeatureDrift(name, value, 0.05, status, rank, 0.0, 0.2 if missing_jump else 0.0,
                        missing_jump, new or {})


def drift(*features: FeatureDrift, score: str = STABLE) -> DriftReport:
    value = {STABLE: 0.01, SHIFTED: 0.15, DRIFTED: 0.4}[score]
    return DriftReport(1000, 10_000, features, ScoreDrift(
        value, 0.02, score, 0.1, 0.1, 0.1, {"high": 0.1, "medium": 0.2, "low": 0.7},
        {"high": 0.1, "medium": 0.2, "low": 0.7}))


def realised(status: str = PENDING, auc: float = 0.8, z: float = 0.0, resolved: int = 1000,
             churned: int = 100) -> Realised:
    if status == PENDING:
        return Realised(PENDING, 1000, 0, 0)
    return Realised(status, 1000, resolved, churned, {"roc_auc": auc}, 0.1, 0.1, z)


def test_nothing_wrong_is_ok():
    verdict = judge(drift(feature("a"), feature("b", rank=2)), realised(), BACKTEST)
    assert verdict.level == OK and verdict.reasons == () and verdict.code == 0


@pytest.mark.parametrize(("report", "level"), [
    (drift(score=DRIFTED), RETRAIN),
    (drift(score=SHIFTED), WATCH),
    (drift(feature("minutes", DRIFTED, rank=2)), RETRAIN),
    (drift(feature("minutes", DRIFTED, rank=6)), WATCH),  # not among the top five
    (drift(feature("minutes", DRIFTED, rank=11)), OK),  # barely used by the model
    (drift(feature("minutes", SHIFTED, rank=1)), WATCH),
    (drift(feature("minutes", SHIFTED, rank=9)), OK),
    (drift(feature("minutes", missing_jump=True)), WATCH),
    (drift(feature("plan", new={"enterprise": 3})), WATCH),
])
def test_drift_verdicts(report, level):
    verdict = judge(report, realised(), BACKTEST)
    assert verdict.level == level
    assert bool(verdict.reasons) == (level != OK)


def test_a_realised_auc_below_the_backtest_band_is_retrain_once_final():
    se = auc_standard_error(0.70, 100, 900)
    floor = 0.80 - 3 * math.hypot(0.01, se)
    assert judge(None, realised(FINAL, auc=floor - 0.01), BACKTEST).level == RETRAIN
    assert judge(None, realised(FINAL, auc=floor + 0.01), BACKTEST).level == OK
    provisional = judge(None, realised(PROVISIONAL, auc=floor - 0.01), BACKTEST)
    assert provisional.level == WATCH and "provisional" in provisional.reasons[0]
    # too few resolved renewals say nothing
    assert judge(None, realised(FINAL, auc=0.5, resolved=50, churned=5), BACKTEST).level == OK


def test_calibration_off_by_more_than_three_standard_errors():
    assert judge(None, realised(FINAL, z=3.5), BACKTEST).level == RETRAIN
    assert judge(None, realised(FINAL, z=-3.5), BACKTEST).level == RETRAIN
    assert judge(None, realised(PROVISIONAL, z=3.5), BACKTEST).level == WATCH
    assert judge(None, realised(FINAL, z=2.9), BACKTEST).level == OK


def test_hanley_mcneil_standard_error_by_hand():
    # A = 0.8, 50 churned, 200 renewed: q1 = 0.8 / 1.2, q2 = 1.28 / 1.8
    q1, q2 = 0.8 / 1.2, 1.28 / 1.8
    variance = (0.16 + 49 * (q1 - 0.64) + 199 * (q2 - 0.64)) / (50 * 200)
    assert auc_standard_error(0.8, 50, 200) == pytest.approx(math.sqrt(variance))
    assert auc_standard_error(0.8, 50, 200) == pytest.approx(0.03952, abs=1e-4)
    assert auc_standard_error(0.8, 0, 200) == math.inf
