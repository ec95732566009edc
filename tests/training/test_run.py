"""Training on a simulated base: beats the baselines out of time, reproducible, and the
MLflow lifecycle (pyfunc, registry aliases, gate, promote, rollback) works for real."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from training.config import TrainConfig, load_config
from training.pipeline import train_and_evaluate
from training.run import pyfunc_input, run_training

pytestmark = pytest.mark.slow


def _truth(manifest):
    from training.pipeline import load_truth

    return load_truth(manifest)


def _alias(client, alias: str) -> str:
    return str(client.get_model_version_by_alias("churnlens", alias).version)


def _config(**lightgbm: object) -> TrainConfig:
    """The packaged config without backtest folds (faster), with optional overrides."""
    config = load_config()
    return config.model_copy(update={
        "split": config.split.model_copy(update={"backtest_folds": 0}),
        "lightgbm": config.lightgbm.model_copy(update=lightgbm),
    })


# A deliberately poor model: two leaves, two trees, a tiny learning rate.
WEAK = {"num_leaves": 2, "max_depth": 1, "n_estimators": 2, "learning_rate": 0.01}


def test_model_beats_both_baselines_out_of_time_and_is_calibrated(simulated_set):
    frame, manifest, _ = simulated_set
    result = train_and_evaluate(frame, load_config(), _truth(manifest))
    ev = result.cutoff.evaluation
    model = {m: ev.metric("model", m) for m in ("roc_auc", "lift_at_10", "ece")}
    for baseline in ("health_score", "logistic"):
        assert model["roc_auc"] > ev.metric(baseline, "roc_auc"), baseline
        assert model["lift_at_10"] > ev.metric(baseline, "lift_at_10"), baseline
    assert model["ece"] < 0.05
    # The oracle at as_of (the true risk given the world before each snapshot) bounds what
    # any model can do on these rows; the one at decision also knows the months after.
    assert model["roc_auc"] < ev.oracle_auc_as_of < ev.oracle_auc_at_decision
    assert ev.oracle_auc == ev.oracle_auc_as_of
    assert len(result.folds) >= 1
    assert set(result.backtest["scorer"]) == {"model", "health_score", "logistic"}


def test_the_oracle_at_as_of_ranks_by_the_simulators_risk_at_each_snapshot(simulated_set):
    from sklearn.metrics import roc_auc_score

    frame, manifest, _ = simulated_set
    result = train_and_evaluate(frame, _config(), _truth(manifest))
    rows = result.cutoff.rows
    truth_dir = Path(manifest["sources"]["location"]) / "_truth"
    as_of = pd.read_parquet(truth_dir / "risk_as_of.parquet")
    as_of["as_of"] = as_of["as_of"].dt.as_unit("ns")
    merged = rows.merge(as_of, on=["subscription_id", "as_of"], how="left",
                        validate="one_to_one")
    assert merged["p_churn_as_of"].notna().all()  # every labelled test row has its truth
    y = rows["churned"].astype(bool)
    ev = result.cutoff.evaluation
    assert math.isclose(ev.oracle_auc_as_of, roc_auc_score(y, merged["p_churn_as_of"]))
    terms = pd.read_parquet(truth_dir / "terms.parquet")
    decision = rows.merge(terms, on="subscription_id", how="left")["p_churn"]
    assert math.isclose(ev.oracle_auc_at_decision, roc_auc_score(y, decision))


def test_every_test_row_lies_after_every_label_the_model_learnt_from(simulated_set):
    frame, _, _ = simulated_set
    result = train_and_evaluate(frame, _config())
    split = result.cutoff.split
    learnt = frame.iloc[np.concatenate([split.train, split.validation])]
    assert learnt["label_resolved_at"].max() <= split.test_start
    assert frame.iloc[split.test]["as_of"].min() >= split.test_start
    train_known = frame.iloc[split.train]["label_resolved_at"].max()
    assert frame.iloc[split.validation]["label_resolved_at"].min() > train_known


def test_same_seed_and_data_give_the_same_metrics(simulated_set):
    frame, _, _ = simulated_set
    first = train_and_evaluate(frame, _config()).cutoff.evaluation.table
    second = train_and_evaluate(frame, _config()).cutoff.evaluation.table
    pd.testing.assert_frame_equal(first, second)


def test_a_single_class_training_set_is_a_clear_error(simulated_set):
    from training.splits import NotEnoughDataError

    frame, _, _ = simulated_set
    renewed = frame.assign(churned=frame["churned"].where(frame["churned"].isna(), False))
    with pytest.raises(NotEnoughDataError, match="both outcomes"):
        train_and_evaluate(renewed, _config())


def test_train_registers_a_champion_that_plain_mlflow_pyfunc_serves(simulated_set):
    import mlflow

    from training.registry import load_version
    from training.tracking import mlflow_client

    frame, manifest, path = simulated_set
    outcome = run_training(frame, manifest, _config(), path)
    assert outcome.version == "1" and outcome.decision.promote
    client = mlflow_client()
    assert _alias(client, "champion") == "1"
    assert _alias(client, "challenger") == "1"

    rows = frame.iloc[outcome.result.cutoff.split.test[:50]]
    model, version = load_version(client)
    expected = model.predict_proba(rows)
    pyfunc = mlflow.pyfunc.load_model("models:/churnlens@champion")
    got = pyfunc.predict(pyfunc_input(rows[list(model.contract.names)]))
    np.testing.assert_allclose(got["churn_probability"].to_numpy(), expected, rtol=1e-12)
    assert version == "1"

    run = client.get_run(outcome.run_id)
    assert run.data.tags["training_set.hash"] == manifest["content_hash"]
    assert run.data.tags["gate.decision"] == "promoted"
    assert math.isclose(run.data.metrics["test.model.roc_auc"],
                        outcome.result.cutoff.evaluation.metric("model", "roc_auc"))
    assert {"split.test_months", "lightgbm.num_leaves"} <= set(run.data.params)
    ev = outcome.result.cutoff.evaluation
    assert math.isclose(run.data.metrics["test.oracle_as_of.roc_auc"], ev.oracle_auc_as_of)
    assert math.isclose(run.data.metrics["test.oracle_at_decision.roc_auc"],
                        ev.oracle_auc_at_decision)
    artifacts = {a.path for a in client.list_artifacts(outcome.run_id, "report")}
    assert {"report/report.md", "report/roc.png", "report/calibration.png"} <= artifacts


def test_the_gate_promotes_a_better_model_and_refuses_a_worse_one(simulated_set, run_cli):
    from training.tracking import mlflow_client

    frame, manifest, path = simulated_set
    weak = run_training(frame, manifest, _config(**WEAK), path)
    assert weak.decision.promote and weak.decision.champion_version is None

    strong = run_training(frame, manifest, _config(), path)
    assert strong.decision.promote, strong.decision.reason
    assert strong.decision.challenger_value > strong.decision.champion_value
    assert strong.decision.champion_version == weak.version
    # The champion served its refit; the gate judged the strict model it came from, whose
    # labels all resolved before these test rows (the refit has learnt them).
    test = frame.iloc[strong.result.cutoff.split.test]
    strict_auc = roc_auc_score(strong.result.cutoff.y, weak.result.strict_model.predict_proba(test))
    assert strong.decision.champion_value == pytest.approx(strict_auc, abs=1e-12)
    assert weak.result.refit is not None

    worse = run_training(frame, manifest, _config(**WEAK), path)
    assert not worse.decision.promote
    assert "does not beat" in worse.decision.reason
    client = mlflow_client()
    assert _alias(client, "champion") == strong.version
    assert _alias(client, "challenger") == worse.version
    assert client.get_run(worse.run_id).data.tags["gate.decision"] == "kept"

    # People override the gate, and undo their overrides, one step at a time.
    assert run_cli("promote", worse.version).code == 0
    assert _alias(client, "champion") == worse.version
    assert run_cli("rollback").code == 0
    assert _alias(client, "champion") == strong.version
    assert run_cli("rollback").code == 0
    assert _alias(client, "champion") == weak.version
    refused = run_cli("rollback")
    assert refused.code != 0 and "no earlier champion" in refused.err
    missing = run_cli("promote", "99")
    assert missing.code != 0 and "no version 99" in missing.err


def test_train_evaluate_and_models_commands(simulated_set, run_cli, tmp_path):
    _, _, path = simulated_set
    config = tmp_path / "fast.yaml"
    config.write_text("split:\n  backtest_folds: 0\n")
    trained = run_cli("train", "--config", config, "--training-set", path)
    assert trained.code == 0, trained.err
    assert "model version 1 (champion)" in trained.out
    assert re.search(r"serves: the cutoff recipe refit on all [\d,]+ resolved rows", trained.out)
    report = next(ln for ln in trained.out.splitlines() if ln.startswith("Report: "))
    assert Path(report.removeprefix("Report: ")).is_file()
    assert "mlflow ui --backend-store-uri sqlite:///" in trained.out
    assert re.search(r"oracle at decision \(knows the future\)\s+ROC AUC 0\.\d{3}", trained.out)
    assert re.search(r"oracle at as_of\s+ROC AUC 0\.\d{3}", trained.out)
    assert "Oracle at as_of ROC AUC" in Path(report.removeprefix("Report: ")).read_text()

    listed = run_cli("models")
    assert listed.code == 0
    assert re.search(r"^\s+1\s+challenger,champion\s", listed.out, re.MULTILINE)

    judged = run_cli("evaluate", "--training-set", path, "--model-uri",
                     "models:/churnlens/1", "--config", config)
    assert judged.code == 0, judged.err
    auc = re.search(r"^\s*all\s+all\s+\d+\s+\d+\s+([\d.]+)", judged.out, re.MULTILINE)
    assert auc is not None and float(auc.group(1)) > 0.7
    as_of = re.search(r"oracle at as_of\s+ROC AUC (0\.\d{3})", judged.out)
    decision = re.search(r"oracle at decision \(knows the future\)\s+ROC AUC (0\.\d{3})",
                         judged.out)
    assert as_of and decision and float(auc.group(1)) < float(as_of.group(1))
    assert "was refitted on these test rows' labels" in judged.out

    bad = run_cli("evaluate", "--model-uri", "runs:/abc/model", "--training-set", path)
    assert bad.code != 0 and "models:/churnlens@ALIAS" in bad.err


def test_a_misspelt_config_key_stops_training_before_any_work(simulated_set, run_cli,
                                                               tmp_path):
    _, _, path = simulated_set
    config = tmp_path / "typo.yaml"
    config.write_text("lightgbm:\n  num_leafs: 7\n")
    result = run_cli("train", "--config", config, "--training-set", path)
    assert result.code == 2
    assert "lightgbm.num_leafs" in result.err


def test_train_across_dask_workers_registers_a_model(simulated_set, run_cli, tmp_path):
    _, _, path = simulated_set
    config = tmp_path / "spread.yaml"
    config.write_text("split:\n  backtest_folds: 0\nlightgbm:\n  n_estimators: 60\n")
    alone = run_cli("train", "--config", config, "--training-set", path, "--distributed-train")
    assert alone.code == 2 and "give --cluster" in alone.err
    spread = run_cli("train", "--config", config, "--training-set", path, "--cluster",
                     "local:2", "--distributed-train")
    assert spread.code == 0, spread.err
    assert "model version 1" in spread.out
    auc = re.search(r"^\s+model\s+ROC AUC (0\.\d{3})", spread.out, re.MULTILINE)
    assert auc is not None and float(auc.group(1)) > 0.7
