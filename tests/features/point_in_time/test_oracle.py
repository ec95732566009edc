"""The vectorised spine and features equal a row-by-row oracle on random small sources."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from naive_features import naive_frame
from random_sources import AS_OF, load_tables, random_tables

from features.point_in_time.spec import TrainingSetSpec
from features.point_in_time.training_set import build_training_set

KEYS = ["api_call", "export", "report_created", "weird_type"]


def _same(expected: object, actual: object) -> bool:
    if expected is None or (isinstance(expected, float) and math.isnan(expected)):
        return actual is None or actual is pd.NA or actual is pd.NaT or (
            isinstance(actual, float) and math.isnan(actual))
    if isinstance(expected, bool):
        return actual == expected
    if isinstance(expected, int | float) and not isinstance(expected, bool):
        return isinstance(actual, int | float) and math.isclose(
            float(actual), float(expected), rel_tol=0, abs_tol=1e-9)
    return actual == expected


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_every_feature_equals_the_naive_oracle(tmp_path, seed):
    sources = load_tables(tmp_path / "src", random_tables(seed))
    spec = TrainingSetSpec(dates=tuple(d.date() for d in AS_OF))
    built = build_training_set(sources, spec)
    expected = naive_frame(sources, AS_OF, KEYS)

    assert len(built) == len(expected) > 40
    assert set(built.columns) == set(expected[0])
    mismatches = []
    for want, got in zip(expected, built.astype(object).to_dict("records"), strict=True):
        for column, value in want.items():
            if not _same(value, got[column]):
                mismatches.append(f"{want['account_id']} {want['as_of'].date()} {column}: "
                                  f"expected {value!r}, built {got[column]!r}")
    assert not mismatches, f"{len(mismatches)} mismatches:\n" + "\n".join(mismatches[:30])


def test_oracle_data_exercises_the_edge_cases(tmp_path):
    """The random sources do contain what the oracle test is meant to catch."""
    sources = load_tables(tmp_path / "src", random_tables(1))
    built = build_training_set(sources, TrainingSetSpec(dates=tuple(d.date() for d in AS_OF)))
    assert built["churned"].isna().any() and built["churned"].fillna(False).any()
    assert (built["open_tickets"] > 0).any()
    assert built.filter(like="days_since_").isna().any().any()  # never used
    assert (built["tickets_opened_90d"] > 0).any() and (built["nps_change"].notna()).any()
    assert (built["active_users_28d"] > 1).any()
    events = sources.tables["usage_events"]
    assert events["timestamp"].isin(AS_OF).any()  # records exactly at a snapshot
