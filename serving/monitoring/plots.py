"""Monitoring's plots for MLflow: one run's drift per feature, and realised ROC AUC over runs."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from serving.monitoring.monitor import RunJudgement
from training.figures import new_figure, save_figure

FEATURES_PLOTTED = 20
PLOTS = {
    "drift.png": "PSI of the newest run's most drifted features against their no-drift spread",
    "realised.png": "Realised ROC AUC of each run against the backtest mean ± 3σ",
}


def write_plots(directory: Path, judgements: Sequence[RunJudgement],
                backtest: Mapping[str, Mapping[str, float]]) -> list[Path]:
    """The plots of PLOTS for one model version's judged runs (newest first)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / name for name in PLOTS]
    _plot_drift(paths[0], judgements[0] if judgements else None)
    _plot_realised(paths[1], judgements, backtest)
    return paths


def _plot_drift(path: Path, judgement: RunJudgement | None) -> None:
    features = [] if judgement is None or judgement.drift is None else \
        list(judgement.drift.features[:FEATURES_PLOTTED])
    figure = new_figure(8.0, 1.5 + 0.3 * max(len(features), 4))
    ax = figure.add_subplot()
    if not features:
        ax.text(0.5, 0.5, "No drift judged for this run", ha="center", va="center",
                transform=ax.transAxes)
    else:
        names = [f.name for f in reversed(features)]
        ax.barh(names, [f.psi for f in reversed(features)], color="#4c72b0", label="PSI")
        ax.scatter([f.spread for f in reversed(features)], names, color="black", marker="|",
                   s=120, label="no-drift spread", zorder=3)
        ax.axvline(0.25, color="#c44e52", linestyle="--", label="0.25")
        assert judgement is not None
        ax.set_title(f"Run {judgement.run.id} as of {judgement.run.as_of}: feature drift")
        ax.set_xlabel("PSI against the reference profile")
        ax.legend(loc="lower right")
    save_figure(figure, path)


def _plot_realised(path: Path, judgements: Sequence[RunJudgement],
                   backtest: Mapping[str, Mapping[str, float]]) -> None:
    points = [(j.run.as_of, j.realised.metrics.get("roc_auc", math.nan), j.realised.status)
              for j in reversed(judgements)]
    points = [p for p in points if math.isfinite(p[1])]
    figure = new_figure(8.0, 4.0)
    ax = figure.add_subplot()
    reference = backtest.get("roc_auc")
    if reference is not None and points:
        low = reference["mean"] - 3 * reference.get("std", 0.0)
        high = reference["mean"] + 3 * reference.get("std", 0.0)
        ax.axhspan(low, high, color="#dddddd", label="backtest mean ± 3σ")
        ax.axhline(reference["mean"], color="#888888")
    if points:
        days = [np.datetime64(p[0], "D") for p in points]
        ax.plot(days, [p[1] for p in points], marker="o", color="#4c72b0",
                label="realised ROC AUC")
        for day, (_, value, status) in zip(days, points, strict=True):
            if status != "final":
                ax.annotate("provisional", (day, value), fontsize=7, textcoords="offset points",
                            xytext=(0, 6), ha="center")
        ax.legend(loc="lower left")
    else:
        ax.text(0.5, 0.5, "No run has resolved renewals yet", ha="center", va="center",
                transform=ax.transAxes)
    ax.set_title("Realised performance by scoring run")
    ax.set_ylabel("ROC AUC")
    save_figure(figure, path)
