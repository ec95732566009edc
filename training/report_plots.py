"""The training report's plots: ROC, reliability, gains and lift, feature contributions.

Figures come from `training.figures` (an Agg canvas per figure, reproducible bytes) and are
drawn under matplotlib's default style.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from training.figures import new_figure, save_figure
from training.metrics import lift_at

if TYPE_CHECKING:
    from matplotlib.axes import Axes

log = logging.getLogger(__name__)

PLOTS = {
    "roc.png": "ROC curves of the model and both baselines on the test rows",
    "calibration.png": "Reliability diagram: predicted churn probability against observed "
                       "churn rate per bin",
    "gains.png": "Cumulative gains and lift: share of churned accounts captured against "
                 "share of accounts contacted",
    "contributions.png": "Top 20 features by mean absolute contribution to the model's "
                         "log-odds",
}
SCORER_LABELS = {"model": "Model", "health_score": "Health score",
                 "logistic": "Logistic regression"}
TOP_FEATURES_PLOTTED = 20
CALIBRATION_BINS = 10


def scorer_label(name: str) -> str:
    return SCORER_LABELS.get(name, name.replace("_", " ").capitalize())


def ordered_scorers(names: Iterable[str]) -> list[str]:
    """Distinct scorer names, the model first so every table reads model-vs-baselines."""
    unique = list(dict.fromkeys(names))
    return sorted(unique, key=lambda s: s != "model")


def write_plots(directory: Path, y: np.ndarray, scores: Mapping[str, np.ndarray],
                 contributions: pd.Series) -> None:
    import matplotlib.style

    ordered = {name: np.asarray(scores[name], dtype=np.float64)
               for name in ordered_scorers(scores)}
    # The default style, not the user's matplotlibrc: the same plots on every machine.
    with matplotlib.style.context("default"):
        _plot_roc(directory / "roc.png", y, ordered)
        _plot_calibration(directory / "calibration.png", y, ordered)
        _plot_gains(directory / "gains.png", y, ordered)
        _plot_contributions(directory / "contributions.png", contributions)


def _percent_axes(ax: Axes, x: bool = True, y: bool = True) -> None:
    from matplotlib.ticker import PercentFormatter

    if x:
        ax.xaxis.set_major_formatter(PercentFormatter(xmax=1))
    if y:
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1))


def _no_data(ax: Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes)


def _both_classes(y: np.ndarray) -> bool:
    return 0 < y.sum() < len(y)


def _plot_roc(path: Path, y: np.ndarray, scores: Mapping[str, np.ndarray]) -> None:
    from sklearn.metrics import auc, roc_curve

    figure = new_figure(6.0, 5.5)
    ax = figure.add_subplot()
    if _both_classes(y):
        for i, (name, prob) in enumerate(scores.items()):
            fpr, tpr, _ = roc_curve(y, prob)
            ax.plot(fpr, tpr, color=f"C{i}",
                    label=f"{scorer_label(name)} (AUC {auc(fpr, tpr):.3f})")
    else:
        _no_data(ax, "Only one class on these rows:\nROC is undefined")
    ax.plot([0, 1], [0, 1], ls="--", color="grey", label="Random ranking")
    ax.set(title="ROC on the out-of-time test rows", xlim=(0, 1), ylim=(0, 1),
           xlabel="False positive rate: renewing accounts flagged (%)",
           ylabel="True positive rate: churned accounts flagged (%)")
    _percent_axes(ax)
    ax.legend(loc="lower right")
    save_figure(figure, path)


def reliability_bins(y: np.ndarray, prob: np.ndarray, bins: int = CALIBRATION_BINS
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean prediction, observed rate and size of up to `bins` equal-count bins.

    Equal-count rather than equal-width because churn scores crowd at the low end; tied
    scores stay in one bin (a banded health score gives fewer, honest points).
    """
    edges = np.unique(np.quantile(prob, np.linspace(0, 1, bins + 1)))
    which = np.searchsorted(edges[1:-1], prob, side="right")
    used = np.unique(which)
    mean = np.array([prob[which == b].mean() for b in used])
    rate = np.array([y[which == b].mean() for b in used])
    size = np.array([(which == b).sum() for b in used])
    return mean, rate, size


def _plot_calibration(path: Path, y: np.ndarray, scores: Mapping[str, np.ndarray]) -> None:
    figure = new_figure(6.0, 5.5)
    ax = figure.add_subplot()
    top = 0.0
    if len(y):
        for i, (name, prob) in enumerate(scores.items()):
            mean, rate, _ = reliability_bins(y, prob)
            top = max(top, mean.max(), rate.max())
            ax.plot(mean, rate, marker="o", color=f"C{i}", label=scorer_label(name))
    else:
        _no_data(ax, "No test rows")
    limit = min(1.0, max(0.05, top * 1.1))
    ax.plot([0, limit], [0, limit], ls="--", color="grey", label="Perfect calibration")
    ax.set(title=f"Reliability diagram ({CALIBRATION_BINS} equal-count bins)",
           xlim=(0, limit), ylim=(0, limit),
           xlabel="Mean predicted churn probability in bin (%)",
           ylabel="Observed churn rate in bin (%)")
    _percent_axes(ax)
    ax.legend(loc="upper left")
    save_figure(figure, path)


def _plot_gains(path: Path, y: np.ndarray, scores: Mapping[str, np.ndarray]) -> None:
    figure = new_figure(11.0, 5.0)
    gains, lift = figure.subplots(1, 2)
    n = len(y)
    if y.sum() > 0:
        share = np.arange(1, n + 1) / n
        start = max(0, math.ceil(0.05 * n) - 1)  # lift over the first few rows is noise
        for i, (name, prob) in enumerate(scores.items()):
            order = np.argsort(-prob, kind="stable")  # as training.metrics ranks the list
            captured = np.cumsum(y[order]) / y.sum()
            label = scorer_label(name)
            gains.plot(np.r_[0, share], np.r_[0, captured], color=f"C{i}", label=label)
            lift.plot(share[start:], captured[start:] / share[start:], color=f"C{i}",
                      label=f"{label} (lift {lift_at(y, prob, 0.10):.2f} @10%, "
                            f"{lift_at(y, prob, 0.20):.2f} @20%)")
        base = y.mean()
        gains.plot([0, base, 1], [0, 1, 1], ls=":", color="black", label="Perfect ranking")
    else:
        _no_data(gains, "No churned accounts on these rows")
        _no_data(lift, "No churned accounts on these rows")
    gains.plot([0, 1], [0, 1], ls="--", color="grey", label="Random list")
    lift.axhline(1.0, ls="--", color="grey", label="Random list")
    for ax in (gains, lift):
        for cut in (0.10, 0.20):
            ax.axvline(cut, ls=":", color="grey", lw=0.8)
    gains.set(title="Cumulative gains", xlim=(0, 1), ylim=(0, 1),
              xlabel="Accounts contacted, highest risk first (% of test rows)",
              ylabel="Churned accounts captured (% of all churned)")
    lift.set(title="Lift (dotted lines: top 10% and 20%)", xlim=(0, 1),
             xlabel="Accounts contacted, highest risk first (% of test rows)",
             ylabel="Lift (× churn rate of a random list)")
    _percent_axes(gains)
    _percent_axes(lift, y=False)
    gains.legend(loc="lower right")
    lift.legend(loc="upper right")
    save_figure(figure, path)


def _plot_contributions(path: Path, contributions: pd.Series) -> None:
    top = contributions.sort_values(ascending=False, kind="stable").head(
        TOP_FEATURES_PLOTTED)
    figure = new_figure(8.0, 1.5 + 0.3 * max(len(top), 4))
    ax = figure.add_subplot()
    if len(top):
        positions = np.arange(len(top))
        ax.barh(positions, top.to_numpy(dtype=np.float64), color="C0",
                label=scorer_label("model"))
        ax.set_yticks(positions, [str(name) for name in top.index])
        ax.invert_yaxis()  # the largest on top
        ax.legend(loc="lower right")
    else:
        _no_data(ax, "No feature contributions")
    ax.set(title=f"Top {len(top)} features by mean |contribution| on the test rows",
           xlabel="Mean absolute contribution to the raw score (log-odds)",
           ylabel="Feature")
    save_figure(figure, path)
