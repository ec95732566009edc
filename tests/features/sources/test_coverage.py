"""Tables that end on different days: labels from the subscriptions' coverage, and a warning."""

from __future__ import annotations

import datetime as dt
import logging

import pandas as pd
import pytest

from features.point_in_time.artifacts import read_training_set, write_training_set
from features.point_in_time.spec import TrainingSetSpec
from features.point_in_time.training_set import build_training_set
from features.simulator import SimulationConfig
from features.simulator.exports import ExportShape
from features.simulator.publish import simulate_into
from features.sources.coverage import coverage_warning, label_end, table_ends
from features.sources.loading import load_sources
from training.cli import _training_set as training_set

DAY = pd.Timestamp


def test_each_table_ends_on_its_latest_record_day() -> None:
    frames = {
        "subscriptions": pd.DataFrame({"start_date": [DAY("2025-01-01", tz="UTC"),
                                                      DAY("2025-11-30", tz="UTC")]}),
        "usage_events": pd.DataFrame({"timestamp": [DAY("2025-12-31 17:45", tz="UTC")]}),
        "tickets": pd.DataFrame({"opened_at": pd.Series([], dtype="datetime64[ns, UTC]")}),
    }
    assert table_ends(frames) == {"subscriptions": DAY("2025-11-30", tz="UTC"),
                                  "usage_events": DAY("2025-12-31", tz="UTC")}


def test_outcomes_are_known_through_the_subscriptions_unless_the_end_is_stated() -> None:
    ends = {"subscriptions": DAY("2025-11-30"), "usage_events": DAY("2025-12-31")}
    assert label_end(ends, DAY("2025-12-31"), stated=False) == DAY("2025-11-30")
    assert label_end(ends, DAY("2025-12-31"), stated=True) == DAY("2025-12-31")
    assert label_end(ends, DAY("2025-11-15"), stated=False) == DAY("2025-11-15")
    assert label_end({"usage_events": DAY("2025-12-31")}, DAY("2025-12-31"),
                     stated=False) == DAY("2025-12-31")


@pytest.mark.parametrize(("subscriptions", "stated", "says"), [
    ("2025-11-30", False, "known through 2025-11-30, the subscriptions' last record"),
    ("2025-11-30", True, "check that the subscriptions are complete"),
    ("2026-01-20", False, "usage_events, the latest activity table, ends 20 days before"),
])
def test_a_gap_of_more_than_a_week_is_a_warning_with_the_dates(subscriptions, stated, says):
    ends = {"subscriptions": DAY(subscriptions), "usage_events": DAY("2025-12-31"),
            "surveys": DAY("2025-10-02")}
    warning = coverage_warning(ends, label_end(ends, DAY("2026-01-20"), stated), stated)
    assert warning is not None and says in warning, warning
    assert f"subscriptions {subscriptions}" in warning and "usage_events 2025-12-31" in warning


def test_tables_a_week_apart_or_less_raise_nothing() -> None:
    ends = {"subscriptions": DAY("2025-12-24"), "usage_events": DAY("2025-12-31")}
    assert coverage_warning(ends, DAY("2025-12-24"), stated=False) is None
    assert coverage_warning({"subscriptions": DAY("2025-01-01")}, DAY("2025-01-01"),
                            stated=False) is None


def test_subscriptions_that_end_a_month_early_do_not_turn_renewals_into_churn(
        tmp_path, caplog, run_cli) -> None:
    """The trap of an export taken on two days: labelled churn stays the simulator's."""
    config = SimulationConfig(n_accounts=300, start=dt.date(2023, 1, 1),
                              end=dt.date(2025, 6, 30), seed=5)
    data = tmp_path / "sim"
    # As `churnlens simulate --subscriptions-end 2025-05-31`: billing exported a month
    # before usage, and no data end stated.
    simulate_into(config, data, shape=ExportShape(subscriptions_end=dt.date(2025, 5, 31)))
    cut = pd.Timestamp("2025-05-31", tz="UTC")
    assert pd.read_parquet(data / "subscriptions.parquet")["start_date"].max() <= cut
    truth = pd.read_parquet(data / "_truth" / "terms.parquet")

    with caplog.at_level(logging.WARNING):
        sources = load_sources(data)
    assert sources.data_end.date() == dt.date(2025, 6, 30)  # usage runs to the end
    assert sources.outcomes_known_through == sources.table_ends["subscriptions"] <= cut
    assert any("subscriptions' last record" in w for w in sources.warnings)
    assert "subscriptions' last record" in caplog.text

    frame = build_training_set(sources, TrainingSetSpec())
    rows = frame.merge(truth[["subscription_id", "churned", "end_date"]], on="subscription_id",
                       how="left", suffixes=("", "_truth"))
    labelled = rows[rows["churned"].notna()]
    # Every label the build gives is the term's true outcome: no renewal after the
    # subscriptions' export counts as churn.
    assert len(labelled) > 1000
    assert (labelled["churned"].astype(bool) == labelled["churned_truth"].astype(bool)).all()
    late = rows[rows["end_date"] > sources.outcomes_known_through]
    assert late["churned"].isna().all(), "terms ending after the export are unresolved"

    # build and train say so (the training set keeps the warning for train), and so
    # does validate (run last: the CLI sets up its own logging).
    path = write_training_set(frame, TrainingSetSpec(), sources, workspace=tmp_path / "ws")
    _, manifest = read_training_set(path)
    assert manifest["sources"]["outcomes_known_through"].startswith(
        str(sources.outcomes_known_through.date()))
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        training_set(path)
    assert "subscriptions' last record" in caplog.text and "training set's sources" in caplog.text
    shown = run_cli("validate", str(data))
    assert shown.code == 0 and "Term outcomes known through: " in shown.out
    assert "subscriptions' last record" in shown.out
