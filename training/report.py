"""The training report: the model and its baselines side by side, in Markdown with plots.

The report is what a person reads before trusting a new model, so it answers the
product's quality bar directly: does the model beat the health score and the logistic
regression on the same out-of-time rows, is it calibrated, how far is it from the best
achievable AUC (the oracle at as_of, on simulated data; the oracle at decision, which
knows the future, is shown beside it), and does it hold per segment and for the accounts
renewing soon.
Lift and recall at the top of the list come next to AUC because a CSM works a ranked list.

Plots use matplotlib's object API with an Agg canvas, imported when a report is written:
no backend is switched for the whole process (a notebook keeps its own), no figure is
registered with pyplot (nothing to leak or close), and `churnlens --help` never imports
matplotlib. Figures are drawn under the default style and saved without the `Software`
PNG chunk, so the same inputs give the same bytes on any machine with the same versions.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from training.evaluation import ORACLES, Evaluation
from training.metrics import HIGHER_IS_BETTER, METRICS, lift_at

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)

REPORT_FILE = "report.md"
PLOTS = {
    "roc.png": "ROC curves of the model and both baselines on the test rows",
    "calibration.png": "Reliability diagram: predicted churn probability against observed "
                       "churn rate per bin",
    "gains.png": "Cumulative gains and lift: share of churned accounts captured against "
                 "share of accounts contacted",
    "contributions.png": "Top 20 features by mean absolute contribution to the model's "
                         "log-odds",
}
MISSING = "–"
SCORER_LABELS = {"model": "Model", "health_score": "Health score",
                 "logistic": "Logistic regression"}
# Column headers of the wide slice tables.
SCORER_SHORT = {"model": "Model", "health_score": "Health", "logistic": "Logistic"}
ORACLE_TITLES = {name: label[0].upper() + label[1:] for name, label in ORACLES.items()}
ORACLE_SHORT = {"as_of": "Oracle at as_of", "at_decision": "Oracle at decision"}
METRIC_LABELS = {
    "roc_auc": "ROC AUC", "pr_auc": "PR AUC", "log_loss": "Log loss", "brier": "Brier",
    "ece": "ECE", "lift_at_10": "Lift @10%", "lift_at_20": "Lift @20%",
    "recall_at_10": "Recall @10%", "recall_at_20": "Recall @20%",
    "churned_arr_captured_at_10": "Churned ARR captured @10%",
}
_PERCENT = frozenset({"recall_at_10", "recall_at_20", "churned_arr_captured_at_10"})
_TWO_DECIMALS = frozenset({"lift_at_10", "lift_at_20"})
# The verdict sentence and the slice tables: ranking quality, list usefulness, calibration.
VERDICT_METRICS = ("roc_auc", "pr_auc")
SLICE_METRICS = ("roc_auc", "lift_at_10", "brier")
SLICE_TITLES = {"segment": ("By segment", "Segment"),
                "days_to_renewal": ("By days to renewal", "Days to renewal")}
TOP_FEATURES_PLOTTED = 20
TOP_FEATURES_LISTED = 10
CALIBRATION_BINS = 10
_DPI = 110


def write_report(directory: Path, *, evaluation: Evaluation, backtest: pd.DataFrame,
                 y: np.ndarray, scores: Mapping[str, np.ndarray],
                 contributions: pd.Series, context: Mapping[str, str]) -> Path:
    """Write `report.md` and its four PNGs into `directory`; return the report's path.

    `evaluation`, `y` and `scores` describe the same cutoff test rows: the tables come
    from the evaluation, the curves from the raw labels and probabilities. Their row
    counts are checked so a plot can never describe other rows than its table.
    """
    y = np.asarray(y, dtype=np.float64)
    _check_rows(evaluation, y, scores)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    _write_plots(directory, y, scores, contributions)
    path = directory / REPORT_FILE
    path.write_text(render_markdown(evaluation, backtest, contributions, context),
                    encoding="utf-8")
    log.info("wrote the training report to %s", path)
    return path


def _check_rows(evaluation: Evaluation, y: np.ndarray, scores: Mapping[str, np.ndarray]
                ) -> None:
    for name, prob in scores.items():
        if len(prob) != len(y):
            raise ValueError(f"scores[{name!r}] has {len(prob)} rows but y has {len(y)}")
    overall = evaluation.table[evaluation.table["slice"] == "all"]
    if len(overall) and int(overall["rows"].iloc[0]) != len(y):
        raise ValueError(f"the evaluation covers {int(overall['rows'].iloc[0])} rows but y "
                         f"has {len(y)}: pass the labels and scores of the same test rows")


# ---------------------------------------------------------------------------- formatting

def format_metric(name: str, value: float) -> str:
    """A metric as a reader wants it: percent for shares, 2 decimals for lift, else 3."""
    if not math.isfinite(value):
        return MISSING
    if name in _PERCENT:
        return f"{value:.1%}"
    if name in _TWO_DECIMALS:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _metric_label(name: str, arrow: bool = False) -> str:
    label = METRIC_LABELS.get(name, name)
    if not arrow:
        return label
    return f"{label} {'↑' if name in HIGHER_IS_BETTER else '↓'}"


def _scorer_label(name: str) -> str:
    return SCORER_LABELS.get(name, name.replace("_", " ").capitalize())


def _cell(text: str) -> str:
    return text.replace("|", r"\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], left: int = 1) -> list[str]:
    """A GitHub-flavoured Markdown table; the first `left` columns left-aligned."""
    align = [":--" if i < left else "--:" for i in range(len(header))]
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _scorers(names: Iterable[str]) -> list[str]:
    """Distinct scorer names, the model first so every table reads model-vs-baselines."""
    unique = list(dict.fromkeys(names))
    return sorted(unique, key=lambda s: s != "model")


def _best(metric: str, values: Mapping[str, float]) -> set[str]:
    """The scorers with the best value as shown, so equal-looking numbers are all bold."""
    shown = {s: format_metric(metric, v) for s, v in values.items() if math.isfinite(v)}
    if len(shown) < 2:
        return set()
    rounded = {s: float(text.rstrip("%")) for s, text in shown.items()}
    target = (max if metric in HIGHER_IS_BETTER else min)(rounded.values())
    return {s for s, v in rounded.items() if v == target}


# ------------------------------------------------------------------------------ markdown

def render_markdown(evaluation: Evaluation, backtest: pd.DataFrame,
                    contributions: pd.Series, context: Mapping[str, str]) -> str:
    """The whole report as Markdown; the PNGs it links sit next to it."""
    lines = ["# Churn model report", ""]
    if context:
        lines += [*(f"- **{key}:** {value}" for key, value in context.items()), ""]
    lines += [*_headline(evaluation), "", *_slices(evaluation), *_backtest(backtest), "",
              *_notes(evaluation.notes), "", *_plots(), "", *_drivers(contributions)]
    return "\n".join(lines).rstrip() + "\n"


def _headline(evaluation: Evaluation) -> list[str]:
    table = evaluation.table
    scorers = _scorers(table["scorer"])
    lines = ["## Model vs baselines on the out-of-time test rows", ""]
    overall = table[table["slice"] == "all"]
    if len(overall):
        rows, churned = int(overall["rows"].iloc[0]), int(overall["churned"].iloc[0])
        rate = f" ({churned / rows:.1%})" if rows else ""
        lines += [f"{rows:,} test rows, {churned:,} churned{rate}.", ""]
    body = []
    for metric in METRICS:
        values = {s: evaluation.metric(s, metric) for s in scorers}
        best = _best(metric, values)
        body.append([_metric_label(metric, arrow=True),
                     *(f"**{format_metric(metric, values[s])}**" if s in best
                       else format_metric(metric, values[s]) for s in scorers)])
    lines += _table(["Metric", *map(_scorer_label, scorers)], body)
    lines += ["", "Bold marks the best scorer per metric; ↑ higher is better, ↓ lower is "
              "better. Lift, recall and churned ARR are for the top 10% or 20% of the list "
              "ranked by score.", "", verdict(evaluation)]
    return [*lines, *_oracle_lines(evaluation)]


def _oracle_lines(evaluation: Evaluation) -> list[str]:
    """The two oracles on the same rows, each said for what it knows; nothing without."""
    as_of, decision = evaluation.oracle_auc_as_of, evaluation.oracle_auc_at_decision
    model_auc = evaluation.metric("model", "roc_auc")
    lines: list[str] = []
    if math.isfinite(as_of):
        gap = (f"; the model is {as_of - model_auc:.3f} below it"
               if math.isfinite(model_auc) else "")
        lines += ["", f"{ORACLE_TITLES['as_of']} ROC AUC: {format_metric('roc_auc', as_of)}, "
                  "the best achievable on these rows: ranking by each snapshot's true churn "
                  "risk given everything the simulator knew before its as_of (hidden health, "
                  "and the shocks so far, including budget cuts and acquisitions that leave "
                  f"almost no trace in the data){gap}."]
    if math.isfinite(decision):
        lines += ["", f"{ORACLE_TITLES['at_decision']} ROC AUC: "
                  f"{format_metric('roc_auc', decision)}, ranking by each term's true churn "
                  "probability at its renewal decision, which depends on health and shocks "
                  "after the snapshot, so no model at as_of can reach it."]
        if not math.isfinite(as_of):
            lines += ["", "The simulated data carries no risk at each snapshot date (it was "
                      "simulated before the simulator kept it), so the gap to the best "
                      "achievable model is not measured; simulate it again to get it."]
    return lines


def verdict(evaluation: Evaluation, metrics: Sequence[str] = VERDICT_METRICS) -> str:
    """One sentence: does the model beat every baseline on `metrics` (strictly)?"""
    scorers = _scorers(evaluation.table["scorer"])
    names = " and ".join(METRIC_LABELS.get(m, m) for m in metrics)
    if "model" not in scorers:
        return "No scorer named `model` was evaluated, so there is no comparison."
    baselines = [s for s in scorers if s != "model"]
    if not baselines:
        return "No baseline was evaluated, so there is no comparison."
    which = {1: "the baseline", 2: "both baselines"}.get(len(baselines),
                                                          f"all {len(baselines)} baselines")
    behind, unknown = [], []
    for metric in metrics:
        label = METRIC_LABELS.get(metric, metric)
        model = evaluation.metric("model", metric)
        if not math.isfinite(model):
            unknown.append(f"{label} is undefined for the model")
            continue
        undefined = []
        for base in baselines:
            other = evaluation.metric(base, metric)
            if not math.isfinite(other):
                undefined.append(_scorer_label(base).lower())
            elif not model > other:
                behind.append(f"{_scorer_label(base).lower()} on {label} "
                              f"({format_metric(metric, model)} vs "
                              f"{format_metric(metric, other)})")
        if undefined:
            unknown.append(f"{label} is undefined for {' and '.join(undefined)}")
    if not behind and not unknown:
        return f"The model beats {which} on {names}."
    reasons = ["it does not beat " + "; ".join(behind)] if behind else []
    reasons += unknown
    ending = " on these rows." if unknown else "."
    return f"The model does not beat {which} on {names}: " + "; ".join(reasons) + ending


def _slices(evaluation: Evaluation) -> list[str]:
    table = evaluation.table
    names = [*SLICE_TITLES, *(s for s in dict.fromkeys(table["slice"])
                              if s != "all" and s not in SLICE_TITLES)]
    scorers = _scorers(table["scorer"])
    lines: list[str] = []
    for name in names:
        title, column = SLICE_TITLES.get(name, (f"By {name}", name))
        lines += [f"## {title}", ""]
        part = table[table["slice"] == name]
        if part.empty:
            lines += [f"_The test rows carry no {column.lower()}._", ""]
            continue
        oracles = [o for o in ORACLE_TITLES
                   if ((evaluation.oracles["oracle"] == o)
                       & (evaluation.oracles["slice"] == name)).any()]  # fmt: skip
        header = [column, "Rows", "Churned",
                  *(f"{METRIC_LABELS.get(m, m)} · {SCORER_SHORT.get(s, _scorer_label(s))}"
                    for m in SLICE_METRICS for s in scorers),
                  *(f"ROC AUC · {ORACLE_SHORT[o]}" for o in oracles)]
        body = []
        for value in dict.fromkeys(part["value"]):
            first = part[part["value"] == value].iloc[0]
            body.append([str(value), f"{int(first['rows']):,}", f"{int(first['churned']):,}",
                         *(format_metric(m, evaluation.metric(s, m, name, value))
                           for m in SLICE_METRICS for s in scorers),
                         *(format_metric("roc_auc", evaluation.oracle(o, name, value))
                           for o in oracles)])
        lines += [*_table(header, body), ""]
    return lines


def _backtest(backtest: pd.DataFrame) -> list[str]:
    lines = ["## Backtest on earlier out-of-time folds", ""]
    if backtest.empty or "scorer" not in backtest:
        return [*lines, "No backtest folds fit in the history, so there is no spread to "
                "judge the test numbers against."]
    scorers = _scorers(backtest["scorer"])
    by_scorer = backtest.set_index("scorer")

    def spread(scorer: str, metric: str) -> str:
        mean = _number(by_scorer, scorer, f"{metric}_mean")
        std = _number(by_scorer, scorer, f"{metric}_std")
        if not math.isfinite(mean):
            return MISSING
        return f"{format_metric(metric, mean)} ± {format_metric(metric, std)}"

    body = [[_metric_label(m, arrow=True), *(spread(s, m) for s in scorers)] for m in METRICS]
    return [*lines, "Mean ± standard deviation over the folds' overall metrics.", "",
            *_table(["Metric", *map(_scorer_label, scorers)], body)]


def _number(frame: pd.DataFrame, row: str, column: str) -> float:
    if column not in frame.columns:
        return math.nan
    value = frame.at[row, column]
    return float(value) if pd.notna(value) else math.nan


def _notes(notes: Sequence[str]) -> list[str]:
    return ["## Notes", "", *([f"- {note}" for note in notes] or ["_None._"])]


def _plots() -> list[str]:
    lines = ["## Plots", ""]
    for file, alt in PLOTS.items():
        if file != "contributions.png":
            lines += [f"![{alt}]({file})", ""]
    return lines[:-1]


def _drivers(contributions: pd.Series) -> list[str]:
    lines = ["## What drives the model", "",
             f"![{PLOTS['contributions.png']}](contributions.png)", ""]
    top = contributions.sort_values(ascending=False, kind="stable").head(TOP_FEATURES_LISTED)
    if top.empty:
        return [*lines, "_No feature contributions were computed._"]
    body = [[f"`{name}`", f"{value:.3f}"] for name, value in top.items()]
    return [*lines, *_table(["Feature", "Mean absolute contribution (log-odds)"], body)]


# --------------------------------------------------------------------------------- plots

def _write_plots(directory: Path, y: np.ndarray, scores: Mapping[str, np.ndarray],
                 contributions: pd.Series) -> None:
    import matplotlib.style

    ordered = {name: np.asarray(scores[name], dtype=np.float64)
               for name in _scorers(scores)}
    # The default style, not the user's matplotlibrc: the same plots on every machine.
    with matplotlib.style.context("default"):
        _plot_roc(directory / "roc.png", y, ordered)
        _plot_calibration(directory / "calibration.png", y, ordered)
        _plot_gains(directory / "gains.png", y, ordered)
        _plot_contributions(directory / "contributions.png", contributions)


def _figure(width: float, height: float) -> Figure:
    """A figure on its own Agg canvas, outside pyplot, so nothing global changes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: Path) -> None:
    figure.savefig(path, dpi=_DPI, metadata={"Software": None})
    figure.clear()
    log.debug("wrote %s", path)


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

    figure = _figure(6.0, 5.5)
    ax = figure.add_subplot()
    if _both_classes(y):
        for i, (name, prob) in enumerate(scores.items()):
            fpr, tpr, _ = roc_curve(y, prob)
            ax.plot(fpr, tpr, color=f"C{i}",
                    label=f"{_scorer_label(name)} (AUC {auc(fpr, tpr):.3f})")
    else:
        _no_data(ax, "Only one class on these rows:\nROC is undefined")
    ax.plot([0, 1], [0, 1], ls="--", color="grey", label="Random ranking")
    ax.set(title="ROC on the out-of-time test rows", xlim=(0, 1), ylim=(0, 1),
           xlabel="False positive rate: renewing accounts flagged (%)",
           ylabel="True positive rate: churned accounts flagged (%)")
    _percent_axes(ax)
    ax.legend(loc="lower right")
    _save(figure, path)


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
    figure = _figure(6.0, 5.5)
    ax = figure.add_subplot()
    top = 0.0
    if len(y):
        for i, (name, prob) in enumerate(scores.items()):
            mean, rate, _ = reliability_bins(y, prob)
            top = max(top, mean.max(), rate.max())
            ax.plot(mean, rate, marker="o", color=f"C{i}", label=_scorer_label(name))
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
    _save(figure, path)


def _plot_gains(path: Path, y: np.ndarray, scores: Mapping[str, np.ndarray]) -> None:
    figure = _figure(11.0, 5.0)
    gains, lift = figure.subplots(1, 2)
    n = len(y)
    if y.sum() > 0:
        share = np.arange(1, n + 1) / n
        start = max(0, math.ceil(0.05 * n) - 1)  # lift over the first few rows is noise
        for i, (name, prob) in enumerate(scores.items()):
            order = np.argsort(-prob, kind="stable")  # as training.metrics ranks the list
            captured = np.cumsum(y[order]) / y.sum()
            label = _scorer_label(name)
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
    _save(figure, path)


def _plot_contributions(path: Path, contributions: pd.Series) -> None:
    top = contributions.sort_values(ascending=False, kind="stable").head(
        TOP_FEATURES_PLOTTED)
    figure = _figure(8.0, 1.5 + 0.3 * max(len(top), 4))
    ax = figure.add_subplot()
    if len(top):
        positions = np.arange(len(top))
        ax.barh(positions, top.to_numpy(dtype=np.float64), color="C0",
                label=_scorer_label("model"))
        ax.set_yticks(positions, [str(name) for name in top.index])
        ax.invert_yaxis()  # the largest on top
        ax.legend(loc="lower right")
    else:
        _no_data(ax, "No feature contributions")
    ax.set(title=f"Top {len(top)} features by mean |contribution| on the test rows",
           xlabel="Mean absolute contribution to the raw score (log-odds)",
           ylabel="Feature")
    _save(figure, path)
