"""Loaders: the same tables from CSV, Parquet and SQLite give equal, contract-typed frames."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from tiny_sources import DATA_END, tiny_tables, write_sqlite, write_tables

from features.sources.contract import TABLES, Kind
from features.sources.loading import load_sources


def test_csv_parquet_and_sqlite_load_to_equal_frames(tmp_path):
    from_csv = load_sources(write_tables(tmp_path / "csv", tiny_tables(), "csv"))
    from_parquet = load_sources(write_tables(tmp_path / "pq", tiny_tables(), "parquet"))
    from_sql = load_sources(write_sqlite(tmp_path / "crm.db"), data_end=DATA_END)
    assert set(from_csv.tables) == set(TABLES)
    for name in TABLES:
        pd.testing.assert_frame_equal(from_csv.tables[name], from_parquet.tables[name])
        pd.testing.assert_frame_equal(from_csv.tables[name], from_sql.tables[name])
    assert from_csv.fingerprints() == from_parquet.fingerprints() == from_sql.fingerprints()


def test_typed_parquet_round_trips_to_the_same_frames(tmp_path, tiny_dir):
    loaded = load_sources(tiny_dir)
    typed_dir = tmp_path / "typed"
    write_tables(typed_dir, loaded.tables, "parquet")
    again = load_sources(typed_dir)
    for name in TABLES:
        pd.testing.assert_frame_equal(loaded.tables[name], again.tables[name])


def test_columns_get_the_contract_dtypes(tiny_dir):
    sources = load_sources(tiny_dir)
    expected = {
        Kind.ID: "str", Kind.TEXT: "str", Kind.FLOAT: "float64", Kind.SMALL_FLOAT: "float32",
        Kind.INT: "Int32", Kind.BOOL: "boolean", Kind.CATEGORY: "category",
        Kind.TIMESTAMP: "datetime64[ns, UTC]",
    }
    for name, table in TABLES.items():
        frame = sources.tables[name]
        assert list(frame.columns) == table.column_names
        for col in table.columns:
            assert str(frame[col.name].dtype) == expected[col.kind], (name, col.name)


def test_timestamps_become_utc_and_offsets_are_respected(tiny_dir):
    usage = load_sources(tiny_dir).tables["usage_events"]
    assert usage["timestamp"].iloc[4] == pd.Timestamp("2024-02-01T21:59:59", tz="UTC")
    assert usage["timestamp"].iloc[1] == pd.Timestamp("2023-01-05", tz="UTC")


def test_naive_parquet_timestamps_are_taken_as_utc(tmp_path):
    tables = tiny_tables()
    tables["accounts"]["created_at"] = pd.to_datetime(tables["accounts"]["created_at"].str[:10])
    sources = load_sources(write_tables(tmp_path / "naive", tables, "parquet"))
    assert sources.accounts["created_at"].iloc[1] == pd.Timestamp("2023-02-15", tz="UTC")


def test_missing_quantity_defaults_to_one_and_booleans_parse(tiny_dir):
    sources = load_sources(tiny_dir)
    assert sources.tables["usage_events"]["quantity"].tolist() == [2.0, 5.0, 1.0, 1.0, 42.5]
    assert sources.subscriptions["auto_renew"].tolist() == [False, True, False, True]
    assert sources.tables["tickets"]["priority"].tolist() == ["high", "urgent"]


def test_optional_columns_absent_from_the_file_exist_as_missing(tmp_path):
    tables = tiny_tables()
    tables["usage_events"] = tables["usage_events"][["account_id", "timestamp", "event_type"]]
    sources = load_sources(write_tables(tmp_path / "s", tables))
    usage = sources.tables["usage_events"]
    assert usage["user_id"].isna().all()
    assert (usage["quantity"] == 1).all()


def test_integer_ids_from_parquet_become_strings(tmp_path):
    tables = tiny_tables()
    ids = {"A1": 101, "A2": 102, "A3": 103}
    for frame in tables.values():
        frame["account_id"] = frame["account_id"].map(ids)
    sources = load_sources(write_tables(tmp_path / "ints", tables, "parquet"))
    assert sources.accounts["account_id"].tolist() == ["101", "102", "103"]


def test_unknown_columns_are_ignored_with_a_warning(tmp_path, caplog):
    tables = tiny_tables()
    tables["accounts"]["favourite_colour"] = "blue"
    sources = load_sources(write_tables(tmp_path / "s", tables))
    assert "favourite_colour" not in sources.accounts.columns
    assert "ignoring columns not in the contract: favourite_colour" in caplog.text


def test_unreachable_database_is_a_clear_error(tmp_path):
    from features.errors import SourceNotFoundError

    with pytest.raises(SourceNotFoundError, match="Cannot read the database"):
        load_sources("postgresql://user:secret@127.0.0.1:1/nowhere")


def test_database_password_never_appears_in_messages(tmp_path):
    from features.errors import SourceNotFoundError

    with pytest.raises(SourceNotFoundError) as info:
        load_sources("postgresql://user:secret@127.0.0.1:1/nowhere")
    assert "secret" not in str(info.value)


def _arrow_parquet(directory: Path, tables: dict[str, pd.DataFrame]) -> Path:
    """Tables as Parquet of plain Arrow strings and no pandas metadata, as other tools write."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    write_tables(directory, {}, "parquet")
    for name, frame in tables.items():
        arrow = pa.Table.from_pandas(frame, preserve_index=False)
        pq.write_table(arrow.replace_schema_metadata(None), directory / f"{name}.parquet")
    return directory


def _categorical(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    return {name: frame.astype("category") for name, frame in tables.items()}


def test_simulated_parquet_with_typed_columns_loads_like_the_same_csv(tmp_path):
    # Typed Parquet takes the fast paths (no text round trip, one parse per distinct id);
    # the same records as CSV text take the row-by-row ones. Both must give equal frames.
    import datetime as dt

    from features.simulator import SimulationConfig, simulate

    config = SimulationConfig(n_accounts=30, start=dt.date(2024, 1, 1),
                              end=dt.date(2024, 6, 30), seed=5)
    simulate(config, tmp_path / "csv", "csv")
    simulate(config, tmp_path / "pq", "parquet")
    from_csv = load_sources(tmp_path / "csv")
    from_parquet = load_sources(tmp_path / "pq")
    assert len(from_parquet.tables["usage_events"]) > 10_000
    for name in TABLES:
        pd.testing.assert_frame_equal(from_csv.tables[name], from_parquet.tables[name])
    assert from_csv.warnings == from_parquet.warnings


def _messy(tables: dict[str, pd.DataFrame]) -> None:
    """Repeated ids and categories with stray spaces, capitals and blank cells."""
    usage = pd.concat([tables["usage_events"]] * 3, ignore_index=True)
    usage.loc[[0, 6], "account_id"] = [" A1", "A1 "]
    usage.loc[[1, 7, 8], "user_id"] = ["  ", "", " u1 "]
    usage.loc[[2, 9], "event_type"] = ["Login", " login"]
    tables["usage_events"] = usage
    tables["tickets"].loc[:, "priority"] = ["HIGH ", " Urgent"]
    tables["accounts"].loc[:, "segment"] = ["smb", " smb", None]


def test_messy_text_loads_the_same_from_csv_and_from_parquet_strings(tmp_path):
    tables = tiny_tables()
    _messy(tables)
    from_csv = load_sources(write_tables(tmp_path / "csv", tables, "csv"))
    from_arrow = load_sources(_arrow_parquet(tmp_path / "arrow", tables))
    from_categorical = load_sources(write_tables(tmp_path / "cat", _categorical(tables),
                                                 "parquet"))
    for name in TABLES:
        pd.testing.assert_frame_equal(from_csv.tables[name], from_arrow.tables[name])
        pd.testing.assert_frame_equal(from_csv.tables[name], from_categorical.tables[name])
    usage = from_csv.tables["usage_events"]
    assert usage["account_id"].iloc[[0, 6]].tolist() == ["A1", "A1"]
    assert usage["user_id"].iloc[[1, 7, 8]].isna().tolist() == [True, True, False]
    assert str(usage["event_type"].iloc[2]) == "Login"
    assert from_csv.tables["tickets"]["priority"].tolist() == ["high", "urgent"]


def test_contract_errors_are_the_same_from_csv_and_from_parquet_strings(tmp_path):
    from features.errors import DataContractError

    tables = tiny_tables()
    _messy(tables)
    tables["usage_events"].loc[[3, 10], "account_id"] = [" A404", "A404"]
    tables["tickets"].loc[1, "priority"] = "Blocker"
    tables["usage_events"].loc[4, "account_id"] = "   "
    messages = []
    for where in (write_tables(tmp_path / "csv", tables, "csv"),
                  _arrow_parquet(tmp_path / "arrow", tables),
                  write_tables(tmp_path / "cat", _categorical(tables), "parquet")):
        with pytest.raises(DataContractError) as info:
            load_sources(where)
        messages.append(str(info.value))
    assert messages[0] == messages[1] == messages[2]
    assert "usage_events.account_id: records for unknown accounts (2 rows)" in messages[0]
    assert "row 4: 'A404'" in messages[0] and "row 11: 'A404'" in messages[0]
    assert "tickets.priority: values outside the allowed set (1 row)" in messages[0]
    assert "usage_events.account_id: empty values (1 row)" in messages[0]


@pytest.mark.parametrize("name", ["accounts", "usage_events", "tickets"])
def test_text_parsed_once_per_distinct_value_equals_parsing_every_row(name):
    # Object columns are parsed row by row; strings and categoricals once per distinct value.
    from features.sources.parsing import parse_table

    tables = tiny_tables()
    _messy(tables)
    rows = tables[name].astype(object).where(tables[name].notna(), None)
    as_categories = rows.astype("category")
    for column in as_categories.columns:  # unused categories are not data
        as_categories[column] = as_categories[column].cat.add_categories([" unused "])
    expected, expected_problems = parse_table(TABLES[name], rows)
    for variant in (rows.astype("str"), as_categories):
        typed, problems = parse_table(TABLES[name], variant)
        pd.testing.assert_frame_equal(typed, expected)
        assert problems == expected_problems


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_outcomes_only_reads_the_contracts_when_the_data_end_is_stated(tmp_path, fmt):
    stated = write_tables(tmp_path / "stated", tiny_tables(), fmt, DATA_END)
    full, light = load_sources(stated), load_sources(stated, outcomes_only=True)
    assert set(light.tables) == {"accounts", "subscriptions"} < set(full.tables)
    assert light.outcomes_known_through == full.outcomes_known_through
    pd.testing.assert_frame_equal(light.subscriptions, full.subscriptions)
    # without a stated end, the latest record of any table is the data's end: read them all
    unstated = write_tables(tmp_path / "unstated", tiny_tables(), fmt, None)
    assert set(load_sources(unstated, outcomes_only=True).tables) == set(full.tables)
    explicit = load_sources(unstated, data_end=DATA_END, outcomes_only=True)
    assert set(explicit.tables) == {"accounts", "subscriptions"}
