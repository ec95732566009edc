"""Fuzzing the CSV loader: damaged files stop the run with a message, never a traceback.

Hypothesis damages one table's file of a valid tiny base, byte by byte (cuts, random
bytes, splices, NULs, other encodings) or cell by cell (any text, garbage dates and
numbers), and damages its header (a column named twice, a required column dropped, the
header repeated, another separator). Where the damage must break the contract, the
message must name the table and column or file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from damaged_sources import FUZZ, assert_refused, base_directory, load_or_refuse
from hypothesis import given
from hypothesis import strategies as st

from features.sources.contract import TABLES, Kind

TABLE_NAMES = ("accounts", "subscriptions", "usage_events", "tickets", "surveys",
               "csm_notes")
# Text that no reading of a date or number accepts, beside whatever Hypothesis invents.
GARBAGE_DATES = ("31/12/2024", "yesterday", "2024-02-30", "0000-00-00", "2024-13-01",
                 "9999-12-31", "-0001-01-01", "12:30", "2024-01-01T25:00:00", "NaT")
GARBAGE_NUMBERS = ("$1,500", "1e400", "-inf", "nan", "one", "1,5", "0x1F", "--2")
# Numbers too large for how a kind is stored (float32, 32-bit integers).
TOO_LARGE = {Kind.SMALL_FLOAT: ("1e39", "-4e38"), Kind.INT: ("3000000000", "1e12")}
CELL_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)


def _cut(data: st.DataObject, raw: bytes) -> bytes:
    return raw[:data.draw(st.integers(0, len(raw)), label="cut at")]


def _splice(data: st.DataObject, raw: bytes) -> bytes:
    start = data.draw(st.integers(0, len(raw)), label="splice at")
    end = data.draw(st.integers(start, min(len(raw), start + 40)), label="splice to")
    return raw[:start] + data.draw(st.binary(max_size=40), label="spliced") + raw[end:]


def _flip(data: st.DataObject, raw: bytes) -> bytes:
    out = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 8), label="flips")):
        out[data.draw(st.integers(0, len(out) - 1))] = data.draw(st.integers(0, 255))
    return bytes(out)


def _nul(data: st.DataObject, raw: bytes) -> bytes:
    at = data.draw(st.integers(0, len(raw)), label="NUL at")
    return raw[:at] + b"\x00" + raw[at:]


def _encoded(data: st.DataObject, raw: bytes) -> bytes:
    """The file in another encoding, with a non-ASCII name so the bytes differ."""
    text = raw.decode().replace(",", ",Caf\u00e9 ", 1)
    return text.encode(data.draw(st.sampled_from(["latin-1", "cp1252", "utf-16",
                                                  "utf-32"]), label="encoding"))


def _random(data: st.DataObject, _raw: bytes) -> bytes:
    return data.draw(st.binary(max_size=400), label="random bytes")


DAMAGES = {"cut": _cut, "splice": _splice, "flip": _flip, "nul": _nul,
           "encoding": _encoded, "random": _random}


@FUZZ
@given(name=st.sampled_from(TABLE_NAMES), damage=st.sampled_from(sorted(DAMAGES)),
       data=st.data())
def test_damaged_bytes_load_or_stop_with_a_message(name, damage, data):
    with base_directory(name) as directory:
        path = directory / f"{name}.csv"
        path.write_bytes(DAMAGES[damage](data, path.read_bytes()))
        load_or_refuse(directory)


@FUZZ
@given(name=st.sampled_from(TABLE_NAMES), data=st.data())
def test_any_text_in_any_cell_loads_or_stops_with_a_message(name, data):
    with base_directory(name) as directory:
        path = directory / f"{name}.csv"
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        for _ in range(data.draw(st.integers(1, 4), label="cells")):
            row = data.draw(st.integers(0, len(frame) - 1), label="row")
            column = data.draw(st.sampled_from(list(frame.columns)), label="column")
            frame.loc[row, column] = data.draw(CELL_TEXT, label="text")
        frame.to_csv(path, index=False)
        load_or_refuse(directory)


def _typed_columns(kinds: set[Kind]) -> list[str]:
    """`table.column` of each contract column of `kinds`, as a failing example shows it."""
    return [f"{name}.{col.name}" for name in TABLE_NAMES for col in TABLES[name].columns
            if col.kind in kinds]


@FUZZ
@given(where=st.sampled_from(_typed_columns({Kind.TIMESTAMP})),
       garbage=st.sampled_from(GARBAGE_DATES), row=st.integers(0, 1))
def test_a_garbage_date_is_named_with_its_row(where, garbage, row):
    name, column = where.split(".")
    with base_directory(name) as directory:
        path = directory / f"{name}.csv"
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame.loc[row, column] = garbage
        frame.to_csv(path, index=False)
        assert_refused(directory, f"{name}.{column}: values that are not a valid timestamp",
                       f"row {row + 1}: {garbage!r}")


@FUZZ
@given(where=st.sampled_from(_typed_columns({Kind.FLOAT, Kind.SMALL_FLOAT, Kind.INT})),
       data=st.data(), row=st.integers(0, 1))
def test_a_garbage_number_is_named_with_its_row(where, data, row):
    name, column = where.split(".")
    kind = TABLES[name].column(column).kind
    garbage = data.draw(st.sampled_from(GARBAGE_NUMBERS + TOO_LARGE.get(kind, ())),
                        label="garbage")
    with base_directory(name) as directory:
        path = directory / f"{name}.csv"
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame.loc[row, column] = garbage
        frame.to_csv(path, index=False)
        assert_refused(directory, f"{name}.{column}: values that are not a valid",
                       f"row {row + 1}: {garbage!r}")


def _rewrite_header(path: Path, edit: Callable[[list[list[str]]], list[list[str]]]
                    ) -> list[str]:
    rows = list(csv.reader(io.StringIO(path.read_text())))
    rows = edit(rows)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    path.write_text(buffer.getvalue())
    return rows[0]


def _add_column(rows: list[list[str]], name: str, value: str) -> list[list[str]]:
    return [[*rows[0], name]] + [[*row, value] for row in rows[1:]]


@FUZZ
@given(name=st.sampled_from(TABLE_NAMES), data=st.data())
def test_a_column_named_twice_is_refused(name, data):
    with base_directory(name) as directory:
        path = directory / f"{name}.csv"
        header = next(csv.reader(io.StringIO(path.read_text())))
        twice = data.draw(st.sampled_from(header), label="column")
        _rewrite_header(path, lambda rows: _add_column(rows, twice, "x"))
        assert_refused(directory, str(path), repr(twice), "more than one column named")


@FUZZ
@given(name=st.sampled_from(TABLE_NAMES), data=st.data())
def test_a_missing_required_column_is_named(name, data):
    required = list(TABLES[name].required_columns)
    with base_directory(name) as directory:
        path = directory / f"{name}.csv"
        dropped = data.draw(st.sampled_from(required), label="dropped")

        def drop(rows: list[list[str]]) -> list[list[str]]:
            at = rows[0].index(dropped)
            return [r[:at] + r[at + 1:] for r in rows]

        _rewrite_header(path, drop)
        assert_refused(directory, f"{name}.{dropped}: required column(s) missing")


@FUZZ
@given(name=st.sampled_from(TABLE_NAMES), extra=st.text("abcxyz_", min_size=1, max_size=8))
def test_an_extra_column_is_ignored(name, extra):
    with base_directory(name) as directory:
        path = directory / f"{name}.csv"
        column = f"extra_{extra}"
        _rewrite_header(path, lambda rows: _add_column(rows, column, "?"))
        assert load_or_refuse(directory) is None


@FUZZ
@given(name=st.sampled_from(TABLE_NAMES), copies=st.integers(1, 3))
def test_a_repeated_header_row_is_refused(name, copies):
    with base_directory(name) as directory:
        path = directory / f"{name}.csv"
        _rewrite_header(path, lambda rows: [rows[0]] * (copies + 1) + rows[1:])
        assert_refused(directory, f"{name}.", "row 1:")


@FUZZ
@given(name=st.sampled_from(TABLE_NAMES), separator=st.sampled_from([";", "\t", "|"]))
def test_another_separator_is_named_as_the_fix(name, separator):
    with base_directory(name) as directory:
        path = directory / f"{name}.csv"
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame.to_csv(path, index=False, sep=separator)
        assert_refused(directory, f"{name}.", f"the header looks separated by {separator!r}")


@FUZZ
@given(name=st.sampled_from(TABLE_NAMES),
       content=st.sampled_from([b"", b"\n", b"\n\n\n", b"   \n", b"\xef\xbb\xbf"]))
def test_an_empty_file_is_refused(name, content):
    with base_directory(name) as directory:
        (directory / f"{name}.csv").write_bytes(content)
        assert_refused(directory, f"{name}")


@FUZZ
@given(value=st.one_of(st.integers(), st.floats(), st.booleans(), CELL_TEXT,
                       st.lists(st.integers(), max_size=2),
                       st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)))
def test_a_stated_data_end_that_is_not_a_day_is_refused(value):
    import json

    with base_directory("accounts") as directory:
        (directory / "dataset.json").write_text(json.dumps({"data_end": value}))
        load_or_refuse(directory)
        if value in ("", None):
            return
        if not isinstance(value, str):
            assert_refused(directory, "dataset.json", "not a day")
