"""The catalog and the built columns agree both ways, and every reason renders."""

from __future__ import annotations

import math
import re

import pandas as pd
import pytest
from random_sources import AS_OF, load_tables, random_tables

from features.point_in_time.catalog import (
    CATALOG_VERSION,
    describe_catalog,
    feature,
    feature_names,
    features_for,
    render_reason,
)
from features.point_in_time.catalog_entries import ENTRIES, WHEN_MISSING
from features.point_in_time.signals import SIGNALS, signal_of
from features.point_in_time.spec import TrainingSetSpec
from features.point_in_time.spine import IDENTITY_COLUMNS
from features.point_in_time.training_set import build_training_set
from features.sources.contract import TABLES

KEYS = ["api_call", "export", "report_created", "weird_type"]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> pd.DataFrame:
    sources = load_tables(tmp_path_factory.mktemp("src"), random_tables(11))
    return build_training_set(sources, TrainingSetSpec(dates=tuple(d.date() for d in AS_OF)))


def test_built_columns_and_catalog_agree_both_ways(built):
    columns = list(built.columns)
    assert columns[: len(IDENTITY_COLUMNS)] == list(IDENTITY_COLUMNS)
    features = columns[len(IDENTITY_COLUMNS):]
    assert features == feature_names(TABLES, KEYS)  # same names, catalog order
    for name in features:  # every built column has an entry ...
        assert feature(name).name == name
    declared = {e.name for e in ENTRIES}  # ... and every entry is built
    per_key = {n for n in declared if "<key>" in n}
    assert declared - per_key <= set(features)
    for pattern in per_key:
        assert {pattern.replace("<key>", k) for k in KEYS} <= set(features)


def test_built_dtypes_are_the_catalog_dtypes(built):
    for spec in features_for(TABLES, KEYS):
        dtype = built[spec.name].dtype
        if spec.dtype == "category":
            assert isinstance(dtype, pd.CategoricalDtype), spec.name
            if spec.categories is not None:
                assert list(dtype.categories) == list(spec.categories)
        else:
            assert str(dtype) == spec.dtype, spec.name


def test_every_template_renders_with_a_built_row(built):
    row = built.iloc[len(built) // 2].to_dict()
    for name in feature_names(TABLES, KEYS):
        text = render_reason(name, row)
        assert text and "{" not in text and "}" not in text and "<key>" not in text, name
        value = row[name]
        missing = value is None or (isinstance(value, float) and math.isnan(value))
        if not missing and name not in ("license_utilisation_28d", "arr_change_ratio"):
            assert not text.startswith("n/a"), (name, text)


def test_reasons_read_naturally():
    row = {"active_users_trend_pct": -41.935, "active_users_prev_28d": 31,
           "active_users_28d": 18}
    assert render_reason("active_users_trend_pct", row) == (
        "Active users fell 41.9% in the last 28 days (31 → 18)")
    assert render_reason("license_utilisation_28d", {
        "license_utilisation_28d": 0.25, "active_users_28d": 5, "seats": 20.0}) == (
        "5 of 20 licensed seats active in the last 28 days (25%)")
    assert render_reason("arr", {"arr": 123456.789}) == "ARR of 123,457"
    assert render_reason("report_created_uses_28d", {"report_created_uses_28d": 3.0}) == (
        "The report created feature was used 3 times in the last 28 days")
    assert render_reason("auto_renew", {"auto_renew": 0.0}) == "Auto-renewal: no"


def test_every_column_that_can_be_missing_says_so_in_words(built):
    """A CSM reads "The export feature has never been used", not "last used n/a days ago"."""
    assert set(WHEN_MISSING) <= {e.name for e in ENTRIES}
    gaps = [name for name in feature_names(TABLES, KEYS) if built[name].isna().any()]
    assert len(gaps) >= 20  # the random sources leave many kinds of gap
    for name in gaps:
        row = built[built[name].isna()].iloc[0].to_dict()
        text = render_reason(name, row)
        assert feature(name).missing and "{value" not in feature(name).missing, name
        assert "n/a" not in text, (name, text)
        assert text != render_reason(name, {**row, name: 1.0}), name


def test_reasons_never_raise_on_missing_values():
    for name in feature_names(TABLES, KEYS):
        said, text = feature(name).missing, render_reason(name, {})
        if said and "{" not in said:
            assert text == said, name
        else:
            assert "n/a" in text, name
        assert render_reason(name, {name: float("nan")})
        assert render_reason(name, {name: pd.NA, "seats": None})
    assert render_reason("no_such_feature", {"no_such_feature": 2}) == "no_such_feature: 2"


def test_declarations_are_well_formed_and_documented():
    names = [e.name for e in ENTRIES]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[a-z0-9_<>]+", n) for n in names)
    assert all(e.description.endswith(".") and e.template for e in ENTRIES)
    assert all(e.table is None or e.table in TABLES for e in ENTRIES)
    docs = describe_catalog()
    assert CATALOG_VERSION in docs and all(f"| {n} |" in docs for n in names)


def test_key_features_that_collide_with_each_other_are_refused():
    with pytest.raises(ValueError, match="duplicate"):
        features_for(TABLES, ["export", "export"])


def test_every_feature_reads_exactly_one_signal():
    for entry in features_for(TABLES, KEYS):
        assert entry.signal in SIGNALS, entry.name
    assert {e.signal for e in features_for(TABLES, KEYS)} == set(SIGNALS)


def test_a_feature_no_signal_claims_is_refused_with_where_to_declare_it():
    with pytest.raises(ValueError, match=r"belongs to 0 signals.*SIGNALS"):
        signal_of("something_new_28d")


def test_every_sentence_carries_its_reference_with_and_without_missing_values(built):
    """Each feature's sentence, for a row with its value and one without, ends with what
    renewing accounts typically show, itself possibly missing ("typically none")."""
    frame = built.copy()
    names = feature_names(TABLES, KEYS)
    typical = {name: built[name].dropna().iloc[0] if built[name].notna().any() else None
               for name in names}
    for name in names:
        with_value = frame[frame[name].notna()]
        without = frame[frame[name].isna()]
        rows = [part.iloc[0].to_dict() for part in (with_value, without) if len(part)]
        rows.append({**rows[0], name: None})
        for row in rows:
            for reference in (("mid_market", typical[name]), ("*", None)):
                text = render_reason(name, row, reference)
                head, _, tail = text.rpartition("; renewing ")
                assert head == render_reason(name, row), (name, text)
                assert tail.startswith("mid-market accounts: " if reference[0] != "*"
                                       else "accounts: "), (name, text)
                assert "n/a" not in tail and "{" not in tail, (name, text)
                if reference[1] is None:
                    assert tail.endswith("typically none"), (name, text)


def test_days_read_as_whole_days():
    row = {"days_since_champion_left_note": 35.9}
    assert render_reason("days_since_champion_left_note", row, ("smb", 12.5)) == (
        "The CSM noted the champion leaving 35 days ago; renewing SMB accounts: 12 days")
