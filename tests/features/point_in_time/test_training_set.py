"""Training sets as artifacts: layout, manifest, round trip, atomic writes; scoring frames."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from random_sources import AS_OF, load_tables, random_tables

from features.errors import SourceNotFoundError
from features.point_in_time.artifacts import (
    latest_training_set,
    manifest_path,
    read_training_set,
    write_training_set,
)
from features.point_in_time.catalog import CATALOG_VERSION
from features.point_in_time.spec import TrainingSetSpec
from features.point_in_time.spine import IDENTITY_COLUMNS
from features.point_in_time.training_set import build_scoring_frame, build_training_set
from features.sources.loading import Sources

SPEC = TrainingSetSpec(name="monthly", start="2023-01-01", end="2024-12-01")


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> Sources:
    return load_tables(tmp_path_factory.mktemp("src"), random_tables(23))


@pytest.fixture(scope="module")
def frame(sources) -> pd.DataFrame:
    return build_training_set(sources, SPEC)


def test_written_set_round_trips_with_its_manifest(tmp_path, sources, frame):
    path = write_training_set(frame, SPEC, sources, workspace=tmp_path)
    assert path.parent == tmp_path / "training_sets" / "monthly"
    assert path.suffix == ".parquet" and manifest_path(path).is_file()
    assert not list(path.parent.glob("*.tmp"))
    again, manifest = read_training_set(path)
    pd.testing.assert_frame_equal(again, frame)
    assert manifest["content_hash"] == path.stem
    assert manifest["catalog_version"] == CATALOG_VERSION
    assert manifest["spec"]["name"] == "monthly" and manifest["spec"]["grace_days"] == 30
    assert manifest["sources"]["fingerprints"] == sources.fingerprints()
    assert manifest["rows"] == len(frame)
    assert manifest["labelled"] + manifest["unlabelled"] == len(frame)
    assert manifest["churned"] == int(frame["churned"].sum())
    assert manifest["features"] == list(frame.columns[len(IDENTITY_COLUMNS):])
    assert manifest["key_features"] == ["api_call", "export", "report_created", "weird_type"]
    months = manifest["label_rate_by_month"]
    assert len(months) == frame["as_of"].dt.strftime("%Y-%m").nunique()
    assert sum(m["labelled"] for m in months.values()) == manifest["labelled"]
    assert set(manifest["categories"]["lifecycle_stage"]) == {
        "onboarding", "adoption", "escalation", "renewal"}
    assert latest_training_set("monthly", tmp_path) == path
    json.dumps(manifest)  # plain JSON all the way down


def test_unlabelled_snapshots_stay_with_an_empty_label(tmp_path, sources, frame):
    assert frame["churned"].isna().any() and frame["churned"].notna().any()
    path = write_training_set(frame, SPEC, sources, out=tmp_path / "set.parquet")
    assert path == tmp_path / "set.parquet"
    assert (tmp_path / "set.manifest.json").is_file()
    stored, _ = read_training_set(path)
    assert str(stored["churned"].dtype) == "boolean"
    assert stored["churned"].isna().sum() == frame["churned"].isna().sum()
    assert stored["label_resolved_at"].isna().sum() == frame["churned"].isna().sum()
    assert isinstance(stored["plan"].dtype, pd.CategoricalDtype)


def test_same_content_gives_the_same_file_and_a_failed_write_leaves_nothing(
        tmp_path, sources, frame, monkeypatch):
    first = write_training_set(frame, SPEC, sources, workspace=tmp_path)
    second = write_training_set(frame.copy(), SPEC, sources, workspace=tmp_path)
    assert first == second

    def broken(self, path, **kwargs):
        path.write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", broken)
    with pytest.raises(OSError, match="disk full"):
        write_training_set(frame.head(3), SPEC, sources, workspace=tmp_path / "other")
    assert not [p for p in (tmp_path / "other").rglob("*") if p.is_file()]


def test_reading_an_incomplete_set_is_a_clear_error(tmp_path):
    (tmp_path / "x.parquet").write_bytes(b"")
    with pytest.raises(SourceNotFoundError, match="manifest"):
        read_training_set(tmp_path / "x.parquet")


def test_scoring_frame_equals_the_training_rows_of_that_date(sources, frame):
    as_of = AS_OF[5]
    scoring = build_scoring_frame(sources, as_of.date())
    expected = frame[frame["as_of"] == as_of].reset_index(drop=True)
    pd.testing.assert_frame_equal(scoring, expected)
    late_in_day = build_scoring_frame(sources, as_of + pd.Timedelta(hours=15))
    pd.testing.assert_frame_equal(late_in_day, expected)


@pytest.mark.parametrize("as_of", ["2023-06-01", "2024-06-01", "2024-12-01"])
def test_scoring_frame_at_any_date_equals_the_training_rows_of_that_date(sources, frame,
                                                                          as_of):
    """One as_of reads only the usage in reach of its windows (and each event type's last
    use before them); the features are still those of a training set spanning all dates."""
    moment = pd.Timestamp(as_of, tz="UTC")
    usage = sources.tables["usage_events"]
    assert (usage["timestamp"] < moment - pd.Timedelta(days=120)).any()
    expected = frame[frame["as_of"] == moment].reset_index(drop=True)
    assert len(expected) > 0
    pd.testing.assert_frame_equal(build_scoring_frame(sources, moment.date()), expected)


def test_weekly_grid_and_grace_days_reach_the_spine(sources):
    weekly = build_training_set(sources, TrainingSetSpec(start="2024-01-01", end="2024-03-01",
                                                         freq="weekly", grace_days=0))
    assert set(weekly["as_of"].dt.day_of_week) == {0}
    assert weekly["as_of"].nunique() == 9
