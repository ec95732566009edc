"""Monitoring in MLflow: one monitoring run per model version, one step per scoring run.

Data scientists already look for a model's story in MLflow, so each version gets a run
(tagged `churnlens.monitoring_of`, named `monitor-vN`) in the churnlens experiment. Its
metrics are stepped by scoring-run id and stamped with the run's as_of, so MLflow's charts
show drift, realised performance and the verdict over time; its artifacts are the plots of
`serving.monitoring.plots`, redrawn at each judgement. Judging a run again as renewals
resolve logs its step again: the newest value is the one MLflow shows.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from serving.monitoring.monitor import RunJudgement
from serving.monitoring.plots import write_plots
from training.tracking import experiment_id

log = logging.getLogger(__name__)

MONITORING_TAG = "churnlens.monitoring_of"


def monitoring_metrics(judgement: RunJudgement) -> dict[str, float]:
    """The numbers logged for one judged run (NaN-free)."""
    out: dict[str, float] = {"monitor.verdict": float(judgement.verdict.code)}
    if judgement.drift is not None:
        drift = judgement.drift
        out["monitor.score_psi"] = drift.score.psi
        out["monitor.mean_probability"] = drift.score.mean_probability
        out["monitor.max_feature_psi"] = max((f.psi for f in drift.features), default=0.0)
        out["monitor.drifted_features"] = float(len(drift.drifted()))
    realised = judgement.realised
    out["realised.resolved_share"] = realised.resolved / realised.rows if realised.rows else 0.0
    for name, value in realised.metrics.items():
        out[f"realised.{name}"] = value
    if realised.resolved:
        out["realised.observed_churn"] = realised.observed_churn
        out["realised.expected_churn"] = realised.expected_churn
    return {k: float(v) for k, v in out.items() if math.isfinite(v)}


def log_judgements(client: Any, judgements: Sequence[RunJudgement]) -> dict[str, str]:
    """Log each model version's judged runs to its monitoring run; {version: run id}."""
    from mlflow.entities import Metric

    by_version: dict[str, list[RunJudgement]] = defaultdict(list)
    for judgement in judgements:
        by_version[judgement.run.model_version].append(judgement)
    experiment = experiment_id(client)
    out = {}
    for version, mine in by_version.items():
        run_id = _monitoring_run(client, experiment, version)
        metrics = []
        for judgement in mine:
            stamp = int(dt.datetime.combine(judgement.run.as_of, dt.time(),
                                            dt.UTC).timestamp() * 1000)
            metrics += [Metric(key, value, stamp, judgement.run.id)
                        for key, value in monitoring_metrics(judgement).items()]
        client.log_batch(run_id, metrics=metrics)
        newest_first = sorted(mine, key=lambda j: (j.run.as_of, j.run.id), reverse=True)
        with tempfile.TemporaryDirectory(prefix="churnlens-monitor-") as tmp:
            write_plots(Path(tmp), newest_first, newest_first[0].backtest)
            client.log_artifacts(run_id, tmp, artifact_path="monitoring")
        client.set_terminated(run_id)
        out[version] = run_id
        log.info("logged %d judged runs of model v%s to MLflow run %s", len(mine), version,
                 run_id)
    return out


def _monitoring_run(client: Any, experiment: str, version: str) -> str:
    found = client.search_runs([experiment],
                               filter_string=f"tags.`{MONITORING_TAG}` = '{version}'",
                               max_results=1)
    if found:
        return str(found[0].info.run_id)
    run = client.create_run(experiment, run_name=f"monitor-v{version}",
                            tags={MONITORING_TAG: version})
    return str(run.info.run_id)
