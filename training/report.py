"""The training report: the model and its baselines side by side, in Markdown with plots.

The report is what a person reads before trusting a new model, so it answers the
product's quality bar directly: does the model beat the health score and the logistic
regression on the same out-of-time rows, is it calibrated, how far is it from the best
achievable AUC (the oracle at as_of, on simulated data; the oracle at decision, which
knows the future, is shown beside it), and does it hold per segment and for the accounts
renewing soon.
Lift and recall at the top of the list come next to AUC because a CSM works a ranked list.

The plots are drawn by `training.report_plots`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from training.evaluation import ORACLES, Evaluation
from training.metrics import HIGHER_IS_BETTER, METRICS
from training.report_plots import PLOTS, ordered_scorers, scorer_label, write_plots

log = logging.getLogger(__name__)

REPORT_FILE = "report.md"
MISSING = "–"
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
TOP_FEATURES_LISTED = 10


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
    write_plots(directory, y, scores, contributions)
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


def _cell(text: str) -> str:
    return text.replace("|", r"\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], left: int = 1) -> list[str]:
    """A GitHub-flavoured Markdown table; the first `left` columns left-aligned."""
    align = [":--" if i < left else "--:" for i in range(len(header))]
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


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
    scorers = ordered_scorers(table["scorer"])
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
    lines += _table(["Metric", *map(scorer_label, scorers)], body)
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
    scorers = ordered_scorers(evaluation.table["scorer"])
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
                undefined.append(scorer_label(base).lower())
            elif not model > other:
                behind.append(f"{scorer_label(base).lower()} on {label} "
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
    scorers = ordered_scorers(table["scorer"])
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
                  *(f"{METRIC_LABELS.get(m, m)} · {SCORER_SHORT.get(s, scorer_label(s))}"
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
    scorers = ordered_scorers(backtest["scorer"])
    by_scorer = backtest.set_index("scorer")

    def spread(scorer: str, metric: str) -> str:
        mean = _number(by_scorer, scorer, f"{metric}_mean")
        std = _number(by_scorer, scorer, f"{metric}_std")
        if not math.isfinite(mean):
            return MISSING
        return f"{format_metric(metric, mean)} ± {format_metric(metric, std)}"

    body = [[_metric_label(m, arrow=True), *(spread(s, m) for s in scorers)] for m in METRICS]
    return [*lines, "Mean ± standard deviation over the folds' overall metrics.", "",
            *_table(["Metric", *map(scorer_label, scorers)], body)]


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
