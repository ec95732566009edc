"""Fuzzing the Parquet loader: damaged files and mistyped columns stop the run with a
message, never a traceback, whether the table is read whole or trimmed for scoring.

Hypothesis damages one table's Parquet file of a valid tiny base (cuts, random bytes,
flipped bytes) or swaps one of its columns for an Arrow column of any type: booleans,
integers of any size, floats with infinities, text, bytes, timestamps of every unit and
far outside the nanosecond range, dates, durations, decimals, lists, structs, nulls. A
date or number column holding values that are no date or number must be refused, naming
the column.
"""

from __future__ import annotations

import datetime as dt
import decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from damaged_sources import FUZZ, assert_refused, base_directory, load_or_refuse
from hypothesis import given
from hypothesis import strategies as st
from tiny_sources import tiny_tables

from features.sources.contract import TABLES, Kind

TABLE_NAMES = ("accounts", "subscriptions", "usage_events", "tickets", "surveys",
               "csm_notes")
NUMBER_KINDS = {Kind.FLOAT, Kind.SMALL_FLOAT, Kind.INT}
# Far past and far future: Parquet keeps microseconds, pandas stores nanoseconds.
ANY_DATETIME = st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31))
OUT_OF_RANGE = st.one_of(
    st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(1677, 9, 1)),
    st.datetimes(min_value=dt.datetime(2262, 5, 1), max_value=dt.datetime(9999, 12, 31)))


def _column(values: st.SearchStrategy[object], kind: pa.DataType, rows: int,
            nulls: bool = True) -> st.SearchStrategy[pa.Array]:
    element = values | st.none() if nulls else values
    return st.lists(element, min_size=rows, max_size=rows).map(
        lambda items: pa.array(items, type=kind))


def any_column(rows: int) -> st.SearchStrategy[pa.Array]:
    """An Arrow column of `rows` values of any type a Parquet file can hold."""
    units = st.sampled_from(["s", "ms", "us"])
    zones = st.sampled_from([None, "UTC", "Europe/Berlin", "-05:00"])
    return st.one_of(
        _column(st.booleans(), pa.bool_(), rows),
        _column(st.integers(-2**63, 2**63 - 1), pa.int64(), rows),
        _column(st.integers(0, 255), pa.uint8(), rows),
        _column(st.floats(), pa.float64(), rows),
        _column(st.floats(width=32), pa.float32(), rows),
        _column(st.text(max_size=12), pa.string(), rows),
        _column(st.text(max_size=12), pa.large_string(), rows),
        _column(st.binary(max_size=12), pa.binary(), rows),
        st.tuples(units, zones).flatmap(
            lambda uz: _column(ANY_DATETIME, pa.timestamp(uz[0], tz=uz[1]), rows)),
        _column(st.dates(), pa.date32(), rows),
        _column(st.times(), pa.time64("us"), rows),
        _column(st.timedeltas(min_value=dt.timedelta(days=-9999),
                              max_value=dt.timedelta(days=9999)), pa.duration("us"), rows),
        _column(st.decimals(min_value=-10**12, max_value=10**12, places=2), pa.decimal128(16, 2),
                rows),
        _column(st.lists(st.integers(-9, 9), max_size=3), pa.list_(pa.int64()), rows),
        _column(st.fixed_dictionaries({"a": st.integers(-9, 9)}),
                pa.struct([("a", pa.int64())]), rows),
        st.just(pa.nulls(rows)),
        _column(st.sampled_from(["A1", "x", ""]), pa.string(), rows).map(
            lambda array: array.dictionary_encode()),
    )


def not_a_date(rows: int) -> st.SearchStrategy[pa.Array]:
    """Columns whose every value is present and no day: no reading may accept them."""
    return st.one_of(
        _column(st.booleans(), pa.bool_(), rows, nulls=False),
        _column(st.times(), pa.time64("us"), rows, nulls=False),
        _column(st.timedeltas(min_value=dt.timedelta(0), max_value=dt.timedelta(days=999)),
                pa.duration("s"), rows, nulls=False),
        _column(st.lists(st.integers(-9, 9), min_size=1, max_size=3), pa.list_(pa.int64()),
                rows, nulls=False),
        _column(OUT_OF_RANGE, pa.timestamp("us", tz="UTC"), rows, nulls=False),
        _column(OUT_OF_RANGE, pa.timestamp("ms"), rows, nulls=False),
    )


def not_a_number(rows: int, kind: Kind) -> st.SearchStrategy[pa.Array]:
    """Columns whose every value is present and not a number the column can store."""
    wrong = [
        _column(st.booleans(), pa.bool_(), rows, nulls=False),
        _column(ANY_DATETIME, pa.timestamp("us"), rows, nulls=False),
        _column(st.dates(), pa.date32(), rows, nulls=False),
        _column(st.timedeltas(min_value=dt.timedelta(0), max_value=dt.timedelta(days=999)),
                pa.duration("s"), rows, nulls=False),
        _column(st.text("abcxyz$,", min_size=1, max_size=6), pa.string(), rows, nulls=False),
        _column(st.sampled_from([float("inf"), float("-inf")]), pa.float64(), rows,
                nulls=False),
    ]
    if kind is Kind.INT:  # beyond the 32-bit integers seats are stored as
        wrong.append(_column(st.integers(2**31, 2**62), pa.int64(), rows, nulls=False))
    if kind is Kind.SMALL_FLOAT:  # beyond what float32 holds
        wrong.append(_column(st.floats(1e39, 1e300), pa.float64(), rows, nulls=False))
    return st.one_of(wrong)


def _write_with(directory, name: str, column: str, array: pa.Array,
                pandas_metadata: bool = False) -> None:
    """`name` as Parquet with `column` replaced by `array` (the CSV copy removed).

    With `pandas_metadata` the file keeps pandas' note that the column held text, as a
    file edited after pandas wrote it does; pyarrow then casts the column back to text.
    """
    table = pa.Table.from_pandas(tiny_tables()[name], preserve_index=False)
    table = table.set_column(table.schema.get_field_index(column), column, array)
    if not pandas_metadata:
        table = table.replace_schema_metadata(None)
    (directory / f"{name}.csv").unlink()
    pq.write_table(table, directory / f"{name}.parquet")


def _columns(kinds: set[Kind] | None = None) -> list[str]:
    """`table.column` of each contract column (of `kinds`), as a failing example shows it."""
    return [f"{name}.{col.name}" for name in TABLE_NAMES for col in TABLES[name].columns
            if kinds is None or col.kind in kinds]


@FUZZ
@given(name=st.sampled_from(TABLE_NAMES), data=st.data())
def test_damaged_parquet_bytes_stop_with_a_message(name, data):
    with base_directory(name) as directory:
        _write_with(directory, name, TABLES[name].columns[0].name,
                    pa.array(tiny_tables()[name][TABLES[name].columns[0].name]))
        path = directory / f"{name}.parquet"
        raw = bytearray(path.read_bytes())
        how = data.draw(st.sampled_from(["cut", "flip", "random"]), label="damage")
        if how == "cut":
            raw = raw[:data.draw(st.integers(0, len(raw) - 1), label="cut at")]
        elif how == "flip":
            for _ in range(data.draw(st.integers(1, 16), label="flips")):
                raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
        else:
            raw = bytearray(data.draw(st.binary(max_size=400), label="random bytes"))
        path.write_bytes(bytes(raw))
        load_or_refuse(directory, with_reach=name == "usage_events")


@FUZZ
@given(where=st.sampled_from(_columns()), data=st.data())
def test_a_column_of_any_type_loads_or_stops_with_a_message(where, data):
    name, column = where.split(".")
    rows = len(tiny_tables()[name])
    with base_directory(name) as directory:
        _write_with(directory, name, column, data.draw(any_column(rows), label="column"),
                    data.draw(st.booleans(), label="pandas metadata"))
        load_or_refuse(directory, with_reach=name == "usage_events")


@FUZZ
@given(where=st.sampled_from(_columns({Kind.TIMESTAMP})), data=st.data())
def test_a_date_column_of_no_dates_is_refused_by_name(where, data):
    name, column = where.split(".")
    rows = len(tiny_tables()[name])
    with base_directory(name) as directory:
        _write_with(directory, name, column, data.draw(not_a_date(rows), label="column"))
        assert_refused(directory, f"{name}.{column}: values that are not a valid timestamp",
                       with_reach=name == "usage_events")


@FUZZ
@given(where=st.sampled_from(_columns(NUMBER_KINDS)), data=st.data())
def test_a_number_column_of_no_numbers_is_refused_by_name(where, data):
    name, column = where.split(".")
    kind = TABLES[name].column(column).kind
    rows = len(tiny_tables()[name])
    with base_directory(name) as directory:
        array = data.draw(not_a_number(rows, kind), label="column")
        _write_with(directory, name, column, array)
        assert_refused(directory, f"{name}.{column}: values that are not a valid",
                       with_reach=name == "usage_events")


def test_a_column_named_twice_in_parquet_is_refused(tmp_path):
    with base_directory("accounts") as directory:
        table = pa.Table.from_pandas(tiny_tables()["accounts"], preserve_index=False)
        table = table.append_column("account_id", pa.array(["B1", "B2", "B3"]))
        (directory / "accounts.csv").unlink()
        pq.write_table(table, directory / "accounts.parquet")
        assert_refused(directory, "accounts.parquet has more than one column named "
                                  "'account_id'")


def test_decimals_and_dates_are_read_as_numbers_and_days():
    """The lenient side of the same rules: these types carry the values the contract asks
    for, so a Parquet export using them loads."""
    with base_directory("subscriptions") as directory:
        rows = len(tiny_tables()["subscriptions"])
        table = pa.Table.from_pandas(tiny_tables()["subscriptions"], preserve_index=False)
        table = table.set_column(table.schema.get_field_index("arr"), "arr", pa.array(
            [decimal.Decimal("1200.50")] * rows, pa.decimal128(10, 2)))
        table = table.set_column(table.schema.get_field_index("start_date"), "start_date",
                                 pa.array([dt.date(2023, 1, 1)] * rows, pa.date32()))
        (directory / "subscriptions.csv").unlink()
        pq.write_table(table, directory / "subscriptions.parquet")
        assert load_or_refuse(directory) is None


@pytest.mark.parametrize("value", [2.0**63, -(2.0**64), 2.0**53 + 2])
def test_an_id_column_of_huge_whole_floats_loads_or_stops_with_a_message(value):
    # found by the fuzz test above: 2**63 does not fit the integers ids are read as
    rows = len(tiny_tables()["accounts"])
    with base_directory("accounts") as directory:
        _write_with(directory, "accounts", "name",
                    pa.array([None, *([value] * (rows - 1))], type=pa.float64()), False)
        load_or_refuse(directory, with_reach=False)
