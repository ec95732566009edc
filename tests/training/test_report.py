"""The training report: files, headline numbers read from the evaluation, and the verdict."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from training.evaluation import Evaluation, backtest_summary, evaluate
from training.report import (
    PLOTS,
    REPORT_FILE,
    format_metric,
    render_markdown,
    verdict,
    write_report,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ROOT = Path(__file__).resolve().parents[2]


def _rows(seed: int = 0, n: int = 400) -> tuple[pd.DataFrame, np.ndarray]:
    """Test rows with their true churn probability."""
    rng = np.random.default_rng(seed)
    p = rng.beta(1.0, 5.0, n)
    rows = pd.DataFrame({
        "churned": rng.random(n) < p,
        "segment": rng.choice(["enterprise", "mid-market", "smb"], n),
        "days_to_renewal": rng.integers(0, 365, n),
        "arr": rng.lognormal(10, 1, n),
    })
    return rows, p


def _scores(p: np.ndarray, model_is_good: bool, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    good = np.clip(p + rng.normal(0, 0.03, len(p)), 0.001, 0.999)
    bad = rng.uniform(0.0, 0.4, len(p))
    worse = rng.uniform(0.0, 0.4, len(p))
    if model_is_good:
        return {"model": good, "health_score": bad, "logistic": worse}
    return {"model": bad, "health_score": good, "logistic": worse}


CONTEXT = {"Training set": "tiny.parquet", "Split": "cutoff 2024-06-01",
           "Trained at": "2024-07-01T00:00:00+00:00"}
CONTRIBUTIONS = pd.Series(np.linspace(0.5, 0.01, 25), index=[f"feature_{i}" for i in range(25)])


def _evaluation(model_is_good: bool = True, oracle: bool = True, seed: int = 0,
                as_of: bool = True) -> tuple[Evaluation, np.ndarray, dict[str, np.ndarray]]:
    rows, p = _rows(seed)
    scores = _scores(p, model_is_good, seed + 1)
    # the risk at as_of: the decision-time probability blurred by what was still to come
    p_as_of = np.clip(p + np.random.default_rng(seed + 2).normal(0, 0.05, len(p)), 0, 1)
    evaluation = evaluate(rows, scores, p if oracle else None,
                          p_as_of if oracle and as_of else None)
    evaluation.notes.append("Only 1 of 3 backtest folds fit in the history.")
    return evaluation, rows["churned"].to_numpy(dtype=np.float64), scores


def _write(directory: Path, backtest: pd.DataFrame) -> tuple[Path, Evaluation]:
    """The full report (plots included) of a model that beats both baselines."""
    evaluation, y, scores = _evaluation()
    path = write_report(directory, evaluation=evaluation, backtest=backtest, y=y,
                        scores=scores, contributions=CONTRIBUTIONS, context=CONTEXT)
    return path, evaluation


def _markdown(model_is_good: bool, oracle: bool) -> tuple[str, Evaluation]:
    """The report's text alone (no plots), for the cases that only change the words."""
    evaluation, _, _ = _evaluation(model_is_good, oracle)
    return render_markdown(evaluation, pd.DataFrame(), CONTRIBUTIONS, CONTEXT), evaluation


def _table_row(text: str, label: str) -> list[str]:
    """Cells of the first Markdown table row whose first cell is `label`, bold removed."""
    for line in text.splitlines():
        cells = [c.strip().replace("**", "") for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == label:
            return cells[1:]
    raise AssertionError(f"no table row {label!r}")


@pytest.fixture(scope="module")
def backtest() -> pd.DataFrame:
    return backtest_summary([_evaluation(seed=s)[0] for s in (5, 6)])


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory, backtest: pd.DataFrame
         ) -> tuple[Path, Evaluation]:
    return _write(tmp_path_factory.mktemp("good"), backtest)


def test_writes_the_report_and_four_valid_pngs(good):
    path, _ = good
    assert path == path.parent / REPORT_FILE and path.is_file()
    assert set(PLOTS) == {"roc.png", "calibration.png", "gains.png", "contributions.png"}
    for name in PLOTS:
        data = (path.parent / name).read_bytes()
        assert data.startswith(PNG_MAGIC), name
        assert b"Software" not in data, name  # no version stamp in the bytes
        assert f"]({name})" in path.read_text(encoding="utf-8")


def test_headline_table_shows_every_scorer_metric_as_in_the_evaluation(good):
    path, evaluation = good
    text = path.read_text(encoding="utf-8")
    scorers = ["model", "health_score", "logistic"]
    expected = {
        "ROC AUC ↑": ("roc_auc", "{:.3f}"), "PR AUC ↑": ("pr_auc", "{:.3f}"),
        "Log loss ↓": ("log_loss", "{:.3f}"), "Brier ↓": ("brier", "{:.3f}"),
        "ECE ↓": ("ece", "{:.3f}"), "Lift @10% ↑": ("lift_at_10", "{:.2f}"),
        "Lift @20% ↑": ("lift_at_20", "{:.2f}"), "Recall @10% ↑": ("recall_at_10", "{:.1%}"),
        "Recall @20% ↑": ("recall_at_20", "{:.1%}"),
        "Churned ARR captured @10% ↑": ("churned_arr_captured_at_10", "{:.1%}"),
    }
    table = evaluation.table
    overall = table[table["slice"] == "all"].set_index("scorer")
    for label, (metric, fmt) in expected.items():
        assert _table_row(text, label) == [fmt.format(overall.at[s, metric]) for s in scorers]
    assert f"{int(overall.at['model', 'rows']):,} test rows" in text
    assert "| Metric | Model | Health score | Logistic regression |" in text


def test_context_notes_and_oracle_appear(good):
    path, evaluation = good
    text = path.read_text(encoding="utf-8")
    assert "- **Split:** cutoff 2024-06-01" in text
    assert "- Only 1 of 3 backtest folds fit in the history." in text
    as_of, decision = evaluation.oracle_auc_as_of, evaluation.oracle_auc_at_decision
    model = evaluation.metric("model", "roc_auc")
    assert f"Oracle at as_of ROC AUC: {as_of:.3f}, the best achievable on these rows" in text
    assert f"the model is {as_of - model:.3f} below it." in text
    assert f"Oracle at decision (knows the future) ROC AUC: {decision:.3f}" in text
    assert "no model at as_of can reach it" in text


def test_slice_tables_show_both_oracles_per_value(good):
    path, evaluation = good
    section = path.read_text(encoding="utf-8").split("## By days to renewal")[1]
    assert "| ROC AUC · Oracle at as_of | ROC AUC · Oracle at decision |" in section
    for value in ("0-90", "91-180", "181+"):
        assert _table_row(section, value)[-2:] == [
            f"{evaluation.oracle(o, 'days_to_renewal', value):.3f}"
            for o in ("as_of", "at_decision")]


def test_without_as_of_truth_the_decision_oracle_is_not_called_the_best():
    evaluation, _, _ = _evaluation(as_of=False)
    text = render_markdown(evaluation, pd.DataFrame(), CONTRIBUTIONS, CONTEXT)
    assert "Oracle at decision (knows the future) ROC AUC" in text
    assert "the best achievable on these rows" not in text and "Oracle at as_of" not in text
    assert "gap to the best achievable model is not measured" in text


def test_says_when_the_model_beats_both_baselines(good):
    path, evaluation = good
    assert evaluation.metric("model", "roc_auc") > evaluation.metric("health_score", "roc_auc")
    text = path.read_text(encoding="utf-8")
    assert "The model beats both baselines on ROC AUC and PR AUC." in text
    assert "does not beat" not in text


def test_says_when_the_model_does_not_beat_a_baseline():
    text, evaluation = _markdown(model_is_good=False, oracle=True)
    assert "The model does not beat both baselines on ROC AUC and PR AUC" in text
    assert "beats both baselines" not in text
    model, health = (evaluation.metric(s, "roc_auc") for s in ("model", "health_score"))
    assert f"health score on ROC AUC ({model:.3f} vs {health:.3f})" in text


def test_undefined_metric_is_named_not_judged():
    table = pd.DataFrame({"scorer": ["model", "logistic"], "slice": "all", "value": "all",
                          "roc_auc": [0.8, math.nan], "pr_auc": [0.5, 0.4]})
    sentence = verdict(Evaluation(table))
    assert sentence.startswith("The model does not beat the baseline")
    assert sentence.endswith(": ROC AUC is undefined for logistic regression on these rows.")
    table.loc[0, "roc_auc"] = math.nan  # the model's own metric undefined
    table.loc[1, "pr_auc"] = 0.6
    sentence = verdict(Evaluation(table))
    assert sentence.endswith(": it does not beat logistic regression on PR AUC (0.500 vs "
                             "0.600); ROC AUC is undefined for the model on these rows.")


def test_slice_tables_have_one_row_per_value_with_counts(good):
    path, evaluation = good
    text = path.read_text(encoding="utf-8")
    assert "## By segment" in text and "## By days to renewal" in text
    table = evaluation.table
    for slice_, values in (("segment", ["enterprise", "mid-market", "smb"]),
                           ("days_to_renewal", ["0-90", "91-180", "181+"])):
        for value in values:
            part = table[(table["slice"] == slice_) & (table["value"] == value)]
            model = part[part["scorer"] == "model"].iloc[0]
            cells = _table_row(text, value)
            assert cells[:2] == [f"{int(model['rows']):,}", f"{int(model['churned']):,}"]
            assert cells[2] == f"{model['roc_auc']:.3f}"  # model ROC AUC comes first


def test_empty_backtest_and_missing_oracle_are_said_plainly():
    text, evaluation = _markdown(model_is_good=True, oracle=False)
    assert math.isnan(evaluation.oracle_auc) and evaluation.oracles.empty
    assert "Oracle" not in text and "nan" not in text.lower()
    assert "No backtest folds" in text


def test_backtest_shows_mean_and_spread(good, backtest):
    path, _ = good
    row = backtest.set_index("scorer").loc["model"]
    section = path.read_text(encoding="utf-8").split("## Backtest")[1]
    assert _table_row(section, "ROC AUC ↑")[0] == (
        f"{row['roc_auc_mean']:.3f} ± {row['roc_auc_std']:.3f}")
    assert _table_row(section, "Recall @10% ↑")[0] == (
        f"{row['recall_at_10_mean']:.1%} ± {row['recall_at_10_std']:.1%}")


def test_same_inputs_give_the_same_bytes_and_leave_matplotlib_as_it_was(good, backtest,
                                                                        tmp_path):
    import matplotlib
    import matplotlib.pyplot as plt

    backend = matplotlib.rcParams._get("backend")
    again = _write(tmp_path, backtest)[0].parent
    assert plt.get_fignums() == []
    assert matplotlib.rcParams._get("backend") == backend
    for name in [*PLOTS, REPORT_FILE]:
        assert (good[0].parent / name).read_bytes() == (again / name).read_bytes(), name


def test_rows_without_churners_or_contributions_still_give_a_report(tmp_path):
    rows = pd.DataFrame({"churned": [False] * 6, "segment": "smb", "days_to_renewal": 10})
    scores = {"model": np.linspace(0.1, 0.3, 6), "health_score": np.full(6, 0.2)}
    path = write_report(tmp_path, evaluation=evaluate(rows, scores), backtest=pd.DataFrame(),
                        y=np.zeros(6), scores=scores, contributions=pd.Series(dtype="float64"),
                        context={})
    text = path.read_text(encoding="utf-8")
    assert _table_row(text, "ROC AUC ↑") == ["–", "–"]
    assert "ROC AUC is undefined for the model" in text
    assert all((tmp_path / name).read_bytes().startswith(PNG_MAGIC) for name in PLOTS)


def test_rows_that_do_not_match_are_refused(tmp_path):
    rows, p = _rows()
    evaluation = evaluate(rows, {"model": p})
    with pytest.raises(ValueError, match="same test rows"):
        write_report(tmp_path, evaluation=evaluation, backtest=pd.DataFrame(),
                     y=np.zeros(10), scores={"model": np.zeros(10)},
                     contributions=pd.Series(dtype="float64"), context={})


def test_numbers_are_formatted_for_reading():
    assert format_metric("roc_auc", 0.81234) == "0.812"
    assert format_metric("lift_at_10", 2.3456) == "2.35"
    assert format_metric("recall_at_20", 0.4567) == "45.7%"
    assert format_metric("brier", math.nan) == "–"


def test_importing_the_module_does_not_import_matplotlib():
    code = "import sys, training.report; print('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=ROOT)
    assert result.stdout.strip() == "False"
