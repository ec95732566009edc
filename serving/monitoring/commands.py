"""`churnlens monitor`, and the judging `churnlens score` does after every run.

Commands parse options and call library functions; heavy imports stay inside them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from functools import cache
from typing import TYPE_CHECKING, Annotated

import typer

from features.cli import DataOption

if TYPE_CHECKING:
    from features.sources.loading import Sources
    from serving.monitoring.monitor import RunJudgement
    from serving.store.models import RunSummary
    from serving.store.score_store import ScoreStore
    from training.profile import ReferenceProfile

log = logging.getLogger(__name__)

RUNS_JUDGED = 24  # the newest runs judged again by default (their renewals resolve)
FEATURES_SHOWN = 8


def monitor(
    run: Annotated[int | None, typer.Option("--run", min=1, help="Judge only this scoring "
                                            "run (default: the newest runs).",
                                            show_default=False)] = None,
    last: Annotated[int, typer.Option(min=1, max=1000, help="How many of the newest runs "
                                      "to judge again.")] = RUNS_JUDGED,
    data: DataOption = None,
    mlflow: Annotated[bool, typer.Option(help="Log the judgements to each model version's "
                                         "monitoring run in MLflow.")] = True,
) -> None:
    """Is the model still right? Judge stored scoring runs: drift, realised performance,
    verdict.

    Each run's features and scores are compared with its model's reference profile (PSI
    judged against the no-drift spread for the run's size), and its scores with the
    outcomes of the terms it scored as far as the sources know them (provisional until
    every one has resolved, then final). The verdict (ok / watch / retrain) and its reasons
    are stored with the run, shown on the Model page, exported to Prometheus and logged to
    MLflow. `churnlens score` does this after every run.
    """
    from features.settings import get_settings
    from features.sources.loading import load_sources
    from features.sources.usage_reach import UsageReach
    from serving.store.score_store import ScoreStore

    settings = get_settings()
    store = ScoreStore(settings.score_store)
    try:
        if run is not None:
            found, _ = store.position(run)
            runs = [] if found is None else [found]
        else:
            runs = store.runs(limit=last)
        if not runs:
            typer.echo("The score store holds no scoring run yet: run `churnlens score` "
                       "first.")
            raise typer.Exit(1)
        # only the subscriptions say which terms resolved: read as little else as can be
        sources = load_sources(str(data) if data is not None else str(settings.sources_dir),
                               usage_reach=UsageReach(1, None), outcomes_only=True)
        judged = judge_and_log(store, runs, sources, mlflow=mlflow)
    finally:
        store.dispose()
    for line in describe(judged):
        typer.echo(line)


def judge_and_log(store: ScoreStore, runs: Sequence[RunSummary], sources: Sources, *,
                  mlflow: bool = True) -> list[RunJudgement]:
    """Judge `runs`, store the judgements and (unless `mlflow` is off) log them."""
    from features.settings import get_settings
    from serving.monitoring.monitor import judge_runs
    from serving.risk import Bands
    from training.tracking import mlflow_client

    settings = get_settings()
    judged = judge_runs(store, runs, sources, _registry_profiles(),
                        Bands(settings.band_high, settings.band_medium), settings.grace_days)
    if mlflow:
        from serving.monitoring.tracking import log_judgements

        try:
            log_judgements(mlflow_client(), judged)
        except Exception as exc:  # the judgement is stored; MLflow is a copy of it
            log.warning("could not log the monitoring to MLflow: %s", exc)
    return judged


def _registry_profiles() -> Callable[[str], ReferenceProfile | None]:
    """Model versions' profiles from the registry, for runs stored without one (each
    version loaded once, and the registry opened only if some run needs it)."""

    @cache
    def profile_of(version: str) -> ReferenceProfile | None:
        from training.registry import RegistryError, load_version
        from training.tracking import mlflow_client

        try:
            model, _ = load_version(mlflow_client(), version)
        except RegistryError as exc:
            log.warning("model version %s cannot be loaded, so its runs' drift is not "
                        "judged: %s", version, exc)
            return None
        return model.profile

    return profile_of


def describe(judged: Sequence[RunJudgement]) -> list[str]:
    """The verdict of the newest run with its reasons and drift, then every run's realised
    performance, as `churnlens monitor` prints them."""
    newest = judged[0]
    run = newest.run
    lines = [f"Run {run.id} as of {run.as_of} (model v{run.model_version}, {run.rows:,} "
             f"accounts): {newest.verdict.level.upper()}"]
    lines += [f"  - {reason}" for reason in newest.verdict.reasons]
    lines += [f"  note: {note}" for note in newest.notes]
    if newest.drift is not None:
        score = newest.drift.score
        lines.append(f"Score: PSI {score.psi:.3f} (no-drift spread {score.spread:.3f}), mean "
                     f"probability {score.mean_probability:.3f}; reference mean "
                     f"{score.reference_mean_probability:.3f}, churn rate "
                     f"{score.reference_churn_rate:.3f}")
        lines.append("Bands now / reference: " + ", ".join(
            f"{b} {score.bands[b]:.1%} / {score.reference_bands[b]:.1%}" for b in score.bands))
        lines.append(f"{'feature':<44} {'rank':>4} {'PSI':>7} {'spread':>7}  status")
        for f in newest.drift.features[:FEATURES_SHOWN]:
            lines.append(f"{f.name[:44]:<44} {f.importance_rank:>4} {f.psi:>7.3f} "
                         f"{f.spread:>7.3f}  {f.status}")
    lines.append("")
    lines.append(f"{'run':>5} {'as_of':<10} {'model':>5} {'verdict':<7} {'status':<11} "
                 f"{'resolved':>9} {'ROC AUC':>7} {'PR AUC':>6} {'lift@10':>7} {'Brier':>6} "
                 f"{'ECE':>6} {'obs/exp':>11}")
    for j in judged:
        r = j.realised
        m = r.metrics
        lines.append(
            f"{j.run.id:>5} {j.run.as_of!s:<10} {j.run.model_version:>5} "
            f"{j.verdict.level:<7} {r.status:<11} {r.resolved:>4}/{r.rows:<4} "
            f"{_num(m.get('roc_auc')):>7} {_num(m.get('pr_auc')):>6} "
            f"{_num(m.get('lift_at_10'), 2):>7} {_num(m.get('brier')):>6} "
            f"{_num(m.get('ece')):>6} {_share(r.observed_churn)}/{_share(r.expected_churn)}")
        for version, shadow in j.shadow.items():
            s = shadow.metrics
            lines.append(f"{'':>5} {'shadow':<10} {version:>5} {'':<7} {shadow.status:<11} "
                         f"{shadow.resolved:>4}/{shadow.rows:<4} {_num(s.get('roc_auc')):>7} "
                         f"{_num(s.get('pr_auc')):>6} {_num(s.get('lift_at_10'), 2):>7} "
                         f"{_num(s.get('brier')):>6} {_num(s.get('ece')):>6} "
                         f"{_share(shadow.observed_churn)}/{_share(shadow.expected_churn)}")
    return lines + by_version(judged)


def by_version(judged: Sequence[RunJudgement]) -> list[str]:
    """Per model version: its judged runs, how many are final, and their mean realised
    ROC AUC and Brier score (runs without resolved renewals left out of the means)."""
    lines = ["", "By model version:"]
    for version in sorted({j.run.model_version for j in judged}, key=_version_order):
        mine = [j for j in judged if j.run.model_version == version]
        aucs = [a for j in mine if math.isfinite(a := j.realised.metrics.get("roc_auc",
                                                                                math.nan))]
        briers = [b for j in mine if math.isfinite(b := j.realised.metrics.get("brier",
                                                                                  math.nan))]
        final = sum(j.realised.status == "final" for j in mine)
        lines.append(f"  v{version}: {len(mine)} runs ({final} final), mean realised ROC AUC "
                     f"{_num(sum(aucs) / len(aucs) if aucs else None)}, Brier "
                     f"{_num(sum(briers) / len(briers) if briers else None)}")
    return lines


def _version_order(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (10**9, version)


def _num(value: float | None, places: int = 3) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.{places}f}"


def _share(value: float) -> str:
    return "-" if not math.isfinite(value) else f"{value:.1%}"
