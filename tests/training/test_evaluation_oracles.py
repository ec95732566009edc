"""The oracles on the test rows: the as-of truth is matched by subscription and as_of, the
decision-time truth by subscription, and each AUC is the plain ROC AUC of its values."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from training.evaluation import ORACLES, evaluate
from training.pipeline import Truth, evaluate_with_truth, load_truth, oracle_probabilities

UTC = "UTC"


def _rows() -> pd.DataFrame:
    """Two terms seen on three snapshot dates each, in spine order (as_of, account)."""
    as_of = pd.to_datetime(["2024-01-01", "2024-01-01", "2024-02-01", "2024-02-01",
                            "2024-03-01", "2024-03-01"], utc=True)  # fmt: skip
    return pd.DataFrame({
        "account_id": ["A1", "A2"] * 3,
        "as_of": as_of,
        "subscription_id": ["A1-S001", "A2-S004"] * 3,
        "churned": pd.array([True, False] * 3, dtype="boolean"),
        "days_to_renewal": [80, 200, 50, 170, 20, 140],
    })


def _truth() -> Truth:
    terms = pd.DataFrame({"subscription_id": ["A2-S004", "A1-S001", "A3-S001"],
                          "p_churn": [0.05, 0.7, 0.9]})
    as_of = pd.DataFrame({  # shuffled, with a term and a date the rows do not have
        "subscription_id": ["A2-S004", "A1-S001", "A1-S001", "A3-S001", "A2-S004",
                            "A1-S001", "A2-S004", "A2-S004"],
        "as_of": pd.to_datetime(["2024-03-01", "2024-02-01", "2024-01-01", "2024-01-01",
                                 "2024-01-01", "2024-03-01", "2024-02-01", "2024-04-01"],
                                utc=True).as_unit("us"),
        "p_churn_as_of": [0.23, 0.12, 0.11, 0.99, 0.21, 0.13, 0.22, 0.5],
    })  # fmt: skip
    return Truth(terms, as_of)


def test_as_of_truth_is_matched_by_subscription_and_date():
    at_decision, as_of, note = oracle_probabilities(_rows(), _truth())
    np.testing.assert_array_equal(at_decision, [0.7, 0.05] * 3)
    np.testing.assert_array_equal(as_of, [0.11, 0.21, 0.12, 0.22, 0.13, 0.23])
    assert note == ""


def test_each_oracle_auc_is_the_roc_auc_of_its_truth_on_the_same_rows():
    rng = np.random.default_rng(3)
    n = 600
    truth_as_of = rng.beta(1, 6, n)
    at_decision = np.clip(truth_as_of + rng.normal(0, 0.1, n), 0, 1)
    churned = rng.random(n) < at_decision
    rows = pd.DataFrame({"churned": churned, "days_to_renewal": rng.integers(0, 365, n)})
    model = np.clip(truth_as_of + rng.normal(0, 0.05, n), 0, 1)
    ev = evaluate(rows, {"model": model}, at_decision, truth_as_of)
    assert math.isclose(ev.oracle_auc_as_of, roc_auc_score(churned, truth_as_of))
    assert math.isclose(ev.oracle_auc_at_decision, roc_auc_score(churned, at_decision))
    assert ev.oracle_auc == ev.oracle_auc_as_of
    soon = rows["days_to_renewal"].to_numpy() <= 90
    assert math.isclose(ev.oracle("as_of", "days_to_renewal", "0-90"),
                        roc_auc_score(churned[soon], truth_as_of[soon]))
    assert ev.oracle_metrics() == {"test.oracle_as_of.roc_auc": ev.oracle_auc_as_of,
                                   "test.oracle_at_decision.roc_auc": ev.oracle_auc_at_decision}


def test_evaluation_uses_the_as_of_truth_and_keeps_the_decision_one():
    rows = _rows()
    ev = evaluate_with_truth(rows, {"model": np.linspace(0.9, 0.1, 6)}, _truth())
    y = [True, False] * 3
    assert math.isclose(ev.oracle_auc_as_of,
                        roc_auc_score(y, [0.11, 0.21, 0.12, 0.22, 0.13, 0.23]))  # 0.0
    assert ev.oracle_auc_as_of == 0.0 and ev.oracle_auc_at_decision == 1.0
    assert ev.oracle_auc == 0.0  # the bound is the as-of one when there is one
    assert set(ev.oracles["oracle"]) == set(ORACLES)


def test_incomplete_as_of_truth_is_left_out_with_a_note_and_a_bare_frame_gives_decision():
    truth = _truth()
    partial = Truth(truth.terms, truth.as_of[truth.as_of["as_of"] != pd.Timestamp(
        "2024-03-01", tz=UTC)])
    ev = evaluate_with_truth(_rows(), {"model": np.linspace(0.9, 0.1, 6)}, partial)
    assert math.isnan(ev.oracle_auc_as_of) and ev.oracle_auc_at_decision == 1.0
    assert ev.oracle_auc == 1.0
    assert any("covers 4 of 6 test rows" in note for note in ev.notes)
    at_decision, as_of, _ = oracle_probabilities(_rows(), Truth(truth.terms))
    assert as_of is None and at_decision is not None
    assert oracle_probabilities(_rows(), None) == (None, None, "")


def test_load_truth_reads_the_sources_truth_files(tmp_path: Path):
    truth = _truth()
    (tmp_path / "_truth").mkdir()
    truth.terms.to_parquet(tmp_path / "_truth" / "terms.parquet")
    manifest = {"sources": {"location": str(tmp_path)}}
    only_terms = load_truth(manifest)
    assert only_terms is not None and only_terms.as_of is None
    truth.as_of.to_parquet(tmp_path / "_truth" / "risk_as_of.parquet")
    loaded = load_truth(json.loads(json.dumps(manifest)))
    assert loaded is not None and loaded.as_of is not None
    pd.testing.assert_frame_equal(loaded.as_of, truth.as_of)
    assert load_truth({"sources": {"location": str(tmp_path / "nowhere")}}) is None
    assert load_truth({}) is None
