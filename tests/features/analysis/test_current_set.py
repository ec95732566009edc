"""The training set of these sources and this spec: reused when it matches, else built."""

from __future__ import annotations

import json

import pytest

import features.analysis.current_set as current_set
from features.analysis.current_set import current_training_set, matching_training_set
from features.point_in_time.artifacts import manifest_path
from features.point_in_time.spec import TrainingSetSpec
from features.sources.loading import load_sources

SPEC = TrainingSetSpec(start="2023-03-01", end="2024-12-01")


def test_a_matching_set_is_reused_and_another_spec_or_data_builds_anew(
        make_sources, isolated_settings, monkeypatch):
    sources = load_sources(make_sources())
    assert matching_training_set(sources, SPEC) is None
    frame, manifest, path = current_training_set(sources, SPEC)
    assert path.parent == isolated_settings.home / "training_sets" / "default"
    assert manifest["rows"] == len(frame) > 0

    def no_building(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a matching training set must be reused, not rebuilt")

    with monkeypatch.context() as patched:
        patched.setattr(current_set, "build_training_set", no_building)
        again, _, same = current_training_set(sources, SPEC)
        assert same == path and len(again) == len(frame)

    weekly = SPEC.model_copy(update={"freq": "weekly"})
    _, _, other = current_training_set(sources, weekly)
    assert other != path

    def more_seats(tables):
        tables["subscriptions"].loc[0, "seats"] = "7"

    changed = load_sources(make_sources(more_seats))
    assert matching_training_set(changed, SPEC) is None


def test_the_workspace_can_be_given(make_sources, tmp_path):
    sources = load_sources(make_sources())
    _, _, path = current_training_set(sources, SPEC, workspace=tmp_path / "elsewhere")
    assert path.is_relative_to(tmp_path / "elsewhere")
    assert matching_training_set(sources, SPEC, workspace=tmp_path / "elsewhere") == path


@pytest.mark.parametrize("field", ["catalog_version", "data_end"])
def test_a_set_from_another_catalog_or_data_end_is_not_reused(make_sources, field):
    sources = load_sources(make_sources())
    _, manifest, path = current_training_set(sources, SPEC)
    meta = manifest_path(path)
    if field == "catalog_version":
        manifest["catalog_version"] = "1999.1"
    else:
        manifest["sources"]["data_end"] = "1999-12-31T00:00:00+00:00"
    meta.write_text(json.dumps(manifest))
    assert matching_training_set(sources, SPEC) is None
