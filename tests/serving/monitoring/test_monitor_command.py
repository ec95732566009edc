"""`churnlens score` judges its run, `churnlens monitor` judges the stored ones again, and
both land in the store and in MLflow, through the real entry point."""

from __future__ import annotations

import pytest

from serving.store.score_store import ScoreStore
from training.config import load_config
from training.run import run_training
from training.tracking import mlflow_client

pytestmark = pytest.mark.slow


def test_score_judges_the_run_and_monitor_judges_the_stored_runs(champion, simulated_set,
                                                                   run_cli, isolated_settings):
    _, manifest, _ = simulated_set
    sources = manifest["sources"]["location"]
    first = run_cli("score", "--data", sources, "--as-of", "2025-06-01")
    assert first.code == 0, first.err
    assert "Monitoring: " in first.out
    second = run_cli("score", "--data", sources)
    assert second.code == 0, second.err

    monitored = run_cli("monitor", "--data", sources)
    assert monitored.code == 0, monitored.err
    lines = monitored.out.splitlines()
    assert lines[0].startswith("Run 2 as of 2026-01-01")
    assert any(line.startswith("Score: PSI") for line in lines)
    table = [line.split() for line in lines if line[:5].strip().isdigit()]
    assert [row[0] for row in table] == ["2", "1"]  # newest first
    # the June run's renewals have mostly resolved by the data's end: it has realised figures
    june = next(row for row in table if row[0] == "1")
    assert june[4] in ("provisional", "final") and float(june[6]) > 0.5
    assert any(line.startswith(f"  v{champion.version}: 2 runs (") for line in lines)

    store = ScoreStore(isolated_settings.score_store)
    try:
        stored = store.monitoring.judgements()
    finally:
        store.dispose()
    assert [j.run.id for j in stored] == [2, 1]
    assert stored[1].report["realised"]["resolved"] > 0
    assert stored[0].report["drift"]["rows"] == stored[0].run.rows

    client = mlflow_client()
    [monitoring] = client.search_runs(
        [client.get_experiment_by_name("churnlens").experiment_id],
        filter_string=f"tags.`churnlens.monitoring_of` = '{champion.version}'")
    steps = {m.step for m in client.get_metric_history(monitoring.info.run_id,
                                                       "monitor.verdict")}
    assert steps == {1, 2}
    assert client.get_metric_history(monitoring.info.run_id, "realised.roc_auc")
    artifacts = {a.path for a in client.list_artifacts(monitoring.info.run_id, "monitoring")}
    assert artifacts == {"monitoring/drift.png", "monitoring/realised.png"}


def test_monitor_says_what_to_do_without_runs_or_for_an_unknown_run(champion, simulated_set,
                                                                    run_cli):
    _, manifest, _ = simulated_set
    sources = manifest["sources"]["location"]
    empty = run_cli("monitor", "--data", sources)
    assert empty.code == 1 and "churnlens score" in empty.out
    assert run_cli("score", "--data", sources, "--no-monitor").code == 0
    unknown = run_cli("monitor", "--run", "99", "--data", sources)
    assert unknown.code != 0 and "no scoring run 99" in unknown.err


def test_a_shadow_challenger_is_scored_on_the_same_accounts(champion, simulated_set, run_cli):
    frame, manifest, path = simulated_set
    sources = manifest["sources"]["location"]
    itself = run_cli("score", "--data", sources, "--shadow", "challenger")
    assert itself.code == 2 and "the champion itself" in itself.err
    config = load_config()
    config = config.model_copy(update={
        "split": config.split.model_copy(update={"backtest_folds": 0})})
    challenger = run_training(frame, manifest, config, path)
    # the same recipe does not beat the champion, so it stays the challenger
    assert not challenger.decision.promote
    shadowed = run_cli("score", "--data", sources, "--as-of", "2025-06-01", "--shadow",
                       "challenger")
    assert shadowed.code == 0, shadowed.err
    assert f"Shadow: model version {challenger.version}" in shadowed.out
    monitored = run_cli("monitor", "--data", sources, "--no-mlflow")
    shadow = [line.split() for line in monitored.out.splitlines() if " shadow " in line]
    assert shadow and shadow[0][1] == challenger.version


def test_a_failed_judgement_keeps_the_scored_run(champion, simulated_set, run_cli,
                                                  isolated_settings, monkeypatch):
    from features.errors import ChurnlensError
    from serving.monitoring import commands

    def broken(*args, **kwargs):
        raise ChurnlensError("the monitoring table is locked.")

    monkeypatch.setattr(commands, "judge_and_log", broken)
    _, manifest, _ = simulated_set
    scored = run_cli("score", "--data", manifest["sources"]["location"])
    assert scored.code == 0, scored.err
    assert "Monitoring:" not in scored.out
    assert "judging it failed: the monitoring table is locked." in scored.err
    store = ScoreStore(isolated_settings.score_store)
    try:
        assert len(store.runs()) == 1 and store.monitoring.judgements() == []
    finally:
        store.dispose()
