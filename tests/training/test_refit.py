"""The shipped model is refitted on every resolved label, and its calibrator never sees a
score of a row its booster learnt from."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.config import load_config
from training.pipeline import train_and_evaluate
from training.refit import calibration_folds, scaled_trees


def _terms(n_terms: int, seed: int = 0) -> pd.DataFrame:
    """Rows of `n_terms` terms, 1-12 snapshots each, all sharing their term's resolution."""
    rng = np.random.default_rng(seed)
    rows = []
    for term in range(n_terms):
        resolved = pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(
            days=int(rng.integers(0, 700)))
        for k in range(int(rng.integers(1, 13))):
            rows.append({"subscription_id": f"s{term}", "churned": bool(rng.random() < 0.2),
                         "as_of": resolved - pd.DateOffset(months=k + 1),
                         "label_resolved_at": resolved})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("folds", [2, 4, 7])
def test_every_calibration_score_comes_from_a_booster_of_earlier_labels(folds):
    frame = _terms(400)
    rows = np.arange(len(frame))
    plan = calibration_folds(frame, rows, folds)
    assert len(plan) == folds - 1
    resolved = frame["label_resolved_at"]
    scored = np.concatenate([fold.scored for fold in plan])
    assert len(np.unique(scored)) == len(scored), "each row is scored once"
    for fold in plan:
        assert resolved.iloc[fold.train].max() < resolved.iloc[fold.scored].min()
        terms = set(frame["subscription_id"].iloc[fold.train])
        assert terms.isdisjoint(frame["subscription_id"].iloc[fold.scored])
        assert (resolved.iloc[fold.train] < fold.boundary).all()
    # Chunks are of about equal size; the first only trains.
    first = np.setdiff1d(rows, scored)
    assert resolved.iloc[first].max() < resolved.iloc[scored].min()
    assert abs(len(first) - len(frame) / folds) < len(frame) / folds * 0.25


def test_the_tree_count_scales_with_the_rows_up_to_n_estimators():
    config = load_config()
    assert scaled_trees(200, 1000, 2500, config) == 500
    assert scaled_trees(200, 1000, 100, config) == 20
    assert scaled_trees(200, 1000, 1, config) == 1
    assert scaled_trees(400, 1000, 10_000, config) == config.lightgbm.n_estimators


@pytest.mark.slow
def test_the_refit_learns_every_resolved_row_and_the_strict_model_is_kept(simulated_set):
    frame, _, _ = simulated_set
    config = load_config()
    config = config.model_copy(update={"split": config.split.model_copy(
        update={"backtest_folds": 0})})
    result = train_and_evaluate(frame, config)
    assert result.refit is not None
    labelled = frame["churned"].notna()
    strict, shipped = result.strict_model, result.model
    assert shipped is result.refit.model and strict is result.cutoff.model
    assert shipped.metadata["refit_rows"] == result.refit.rows == int(labelled.sum())
    assert result.refit.rows > len(result.cutoff.split.train) + len(result.cutoff.split.test)
    assert pd.Timestamp(shipped.metadata["labels_known_through"]) == pd.to_datetime(
        frame.loc[labelled, "label_resolved_at"], utc=True).max()
    assert pd.Timestamp(strict.metadata["labels_known_through"]) == result.cutoff.split.test_start
    expected = scaled_trees(strict.metadata["best_iteration"], len(result.cutoff.split.train),
                            result.refit.rows, config)
    assert shipped.booster.num_trees() == result.refit.trees == expected
    # Out-of-fold scores of every chunk after the first: about three quarters of the rows.
    assert 0.6 < result.refit.calibration_rows / result.refit.rows < 0.85
    # The references and spreads describe the rows the refit learnt from.
    assert shipped.contract.references != strict.contract.references
    assert set(shipped.contract.signal_spreads) == set(strict.contract.signal_spreads)
    test = frame.iloc[result.cutoff.split.test]
    assert not np.allclose(shipped.predict_proba(test), strict.predict_proba(test))
    assert any("refit on all" in note for note in result.notes)

    off = config.model_copy(update={"refit": config.refit.model_copy(update={"enabled": False})})
    plain = train_and_evaluate(frame, off)
    assert plain.refit is None and plain.model is plain.cutoff.model
