"""The Model page for data scientists and admins: is the model serving still right?

The serving version and its training window, the backtest it was promoted on, the newest
judged run's verdict and drift table (a sparkline of each feature's PSI over the judged
runs), realised performance run by run against the backtest band, and the reliability
diagram of the run with the most resolved renewals. Everything comes from the stored
judgements (`churnlens monitor`), laid out here so the template only draws.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from serving.monitoring.monitor import RunJudgement
from serving.store.monitoring import Judgement
from training.model import ChurnRiskModel

FEATURES_SHOWN = 15
SPARK_WIDTH, SPARK_HEIGHT = 120, 24


@dataclass(frozen=True)
class DriftRow:
    name: str
    rank: int
    psi: float
    spread: float
    status: str
    missing_reference: float
    missing_now: float
    spark: str  # polyline points of the feature's PSI over the judged runs, oldest left


@dataclass(frozen=True)
class Plot:
    """One SVG chart: a polyline and marked points in a `width` x `height` box."""

    width: int
    height: int
    line: str = ""
    points: tuple[tuple[float, float, str, str], ...] = ()  # x, y, label, css class
    band: tuple[float, float] | None = None  # y of the top and bottom of a shaded band
    y_ticks: tuple[tuple[float, str], ...] = ()
    diagonal: str = ""


@dataclass(frozen=True)
class ModelView:
    version: str | None
    metadata: Mapping[str, Any]
    reference: Mapping[str, Any] | None
    backtest: Mapping[str, Mapping[str, float]]
    newest: RunJudgement | None
    drift: tuple[DriftRow, ...] = ()
    runs: tuple[RunJudgement, ...] = ()
    auc: Plot | None = None
    reliability: Plot | None = None
    reliability_run: RunJudgement | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


def model_view(model: ChurnRiskModel | None, version: str | None,
               stored: Sequence[Judgement]) -> ModelView:
    """Everything the Model page shows, from the serving model and the stored judgements
    (newest first)."""
    runs = tuple(RunJudgement.from_stored(j.run, j.report) for j in stored)
    profile = model.profile if model is not None else None
    reference = None if profile is None else {
        "window": profile.window, "rows": profile.rows, "churn_rate": profile.churn_rate,
        "mean_probability": profile.mean_probability}
    newest = runs[0] if runs else None
    backtest = profile.backtest if profile is not None else (
        newest.backtest if newest is not None else {})
    resolved = [r for r in runs if r.realised.reliability]
    chosen = max(resolved, key=lambda r: (r.realised.status == "final", r.realised.resolved),
                 default=None)
    notes = []
    if model is not None and profile is None:
        notes.append(f"Model version {version} carries no reference profile (trained before "
                     "monitoring): retrain it for drift to be judged.")
    if not runs:
        notes.append("No scoring run has been judged yet: `churnlens score` judges each run, "
                     "`churnlens monitor` judges the stored ones again.")
    return ModelView(version, dict(model.metadata) if model is not None else {}, reference,
                     backtest, newest, drift_rows(runs), runs, auc_plot(runs, backtest),
                     reliability_plot(chosen) if chosen is not None else None, chosen,
                     tuple(notes))


def drift_rows(runs: Sequence[RunJudgement]) -> tuple[DriftRow, ...]:
    """The newest run's most drifted features, each with its PSI over the judged runs."""
    if not runs or runs[0].drift is None:
        return ()
    history = [r for r in reversed(runs) if r.drift is not None]
    rows = []
    for f in runs[0].drift.features[:FEATURES_SHOWN]:
        values = [next((g.psi for g in r.drift.features if g.name == f.name), math.nan)
                  for r in history if r.drift is not None]
        rows.append(DriftRow(f.name, f.importance_rank, f.psi, f.spread, f.status,
                             f.missing_reference, f.missing_now, sparkline(values)))
    return tuple(rows)


def sparkline(values: Sequence[float], width: int = SPARK_WIDTH,
              height: int = SPARK_HEIGHT) -> str:
    """Polyline points of `values` (oldest left) scaled to the box; NaN values skipped."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return ""
    top = max(max(finite), 0.25)  # the drift level always fits, so heights compare
    step = width / max(len(values) - 1, 1)
    return " ".join(f"{i * step:.1f},{height - 2 - (v / top) * (height - 4):.1f}"
                    for i, v in enumerate(values) if math.isfinite(v))


def auc_plot(runs: Sequence[RunJudgement], backtest: Mapping[str, Mapping[str, float]],
             width: int = 520, height: int = 200) -> Plot | None:
    """Realised ROC AUC per run (oldest left) against the backtest mean ± 3σ."""
    points = [(r, r.realised.metrics.get("roc_auc", math.nan)) for r in reversed(runs)]
    points = [(r, v) for r, v in points if math.isfinite(v)]
    if not points:
        return None
    reference = backtest.get("roc_auc")
    low, high = 0.5, 1.0
    left, right, top, bottom = 40, width - 10, 10, height - 24

    def y(value: float) -> float:
        return bottom - (min(max(value, low), high) - low) / (high - low) * (bottom - top)

    step = (right - left) / max(len(points) - 1, 1)
    marks = tuple((left + i * step, y(v), f"run {r.run.id}, {r.run.as_of}: {v:.3f} "
                   f"({r.realised.status})", "final" if r.realised.status == "final"
                   else "provisional") for i, (r, v) in enumerate(points))
    band = None
    if reference is not None:
        sigma = 3 * reference.get("std", 0.0)
        band = (y(reference["mean"] + sigma), y(reference["mean"] - sigma))
    return Plot(width, height, " ".join(f"{x:.1f},{yy:.1f}" for x, yy, _, _ in marks), marks,
                band, tuple((y(t), f"{t:.1f}") for t in (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)))


def reliability_plot(run: RunJudgement, size: int = 220) -> Plot:
    """Churn rate against mean probability per probability bin, with the diagonal."""
    pad = 30
    span = size - 2 * pad
    peak = max([0.5, *(max(p, o) for p, o, _ in run.realised.reliability)])

    def at(value: float) -> float:
        return value / peak * span

    marks = tuple((pad + at(p), size - pad - at(o), f"{n} renewals: predicted {p:.0%}, "
                   f"churned {o:.0%}", "bin") for p, o, n in run.realised.reliability)
    return Plot(size, size, points=marks,
                diagonal=f"{pad},{size - pad} {pad + span},{size - pad - span}",
                y_ticks=((size - pad, "0%"), (size - pad - span, f"{peak:.0%}")))


def figure(value: float | None, places: int = 3) -> str:
    """A metric for the page: its value to `places` decimals, or a dash when undefined."""
    return "–" if value is None or not math.isfinite(value) else f"{value:.{places}f}"


def share(value: float | None) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.1%}"
