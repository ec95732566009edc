"""Turn a raw table into the contract's types, reporting every unparseable value by row.

Rows are numbered from 1 in the order they were read (the line after a CSV header is
row 1): a raw frame's index holds each row's position in its source, from 0, so a source
read in part still has its rows named right. Timestamps become timezone-aware UTC, ids
strings, low-cardinality text categoricals, and scores float32 — the memory-conscious
types every later stage expects.

Typed Parquet can hold tens of millions of usage rows, so work a column's dtype already
makes unnecessary is skipped (no text round trip for timestamps and numbers), and text
is parsed once per distinct value (`distinct`) rather than once per row. Either way the
result is exactly what parsing the same table as CSV text gives.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from features.errors import Violation
from features.sources.contract import Column, Kind, Table
from features.sources.distinct import by_distinct_value, has_text_values

MAX_EXAMPLES = 5
# Kinds whose text is parsed once per distinct value when it comes as strings.
TEXT_KINDS = frozenset({Kind.ID, Kind.TEXT, Kind.CATEGORY})
TIMESTAMP_DTYPE = "datetime64[ns, UTC]"
_EARLIEST = pd.Timestamp.min.tz_localize("UTC")  # the range of TIMESTAMP_DTYPE
_LATEST = pd.Timestamp.max.tz_localize("UTC")
# The largest magnitude each number kind stores (float32, Int32); beyond it, unparseable.
_LIMITS = {Kind.SMALL_FLOAT: float(np.finfo(np.float32).max),
           Kind.INT: float(np.iinfo(np.int32).max)}
_TRUE = frozenset({"true", "t", "yes", "y", "1", "1.0"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "0.0"})

_FIXES = {
    Kind.TIMESTAMP: "write timestamps in ISO 8601, e.g. 2024-03-05 or 2024-03-05T14:30:00Z",
    Kind.FLOAT: "write plain numbers with a dot as decimal separator and no currency signs",
    Kind.SMALL_FLOAT: "write plain numbers with a dot as decimal separator (at most 3.4e38)",
    Kind.INT: "write whole numbers (at most 2147483647)",
    Kind.BOOL: "write true/false (or 1/0, yes/no)",
}


def examples(rows: Iterable[int], values: Iterable[object]) -> list[str]:
    """Up to MAX_EXAMPLES 'row N: value' strings for a message; `rows` count from 0."""
    out = []
    for row, value in zip(rows, values, strict=False):
        out.append(f"row {int(row) + 1}: {render_value(value)}")
        if len(out) == MAX_EXAMPLES:
            break
    return out


def render_value(value: object) -> str:
    """A value as a person reads it in a message: strings quoted, numbers and dates plain."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, pd.Timestamp | np.datetime64):
        return pd.Timestamp(value).isoformat()
    if isinstance(value, np.generic):
        return str(value.item())
    return str(value)


def parse_table(table: Table, raw: pd.DataFrame) -> tuple[pd.DataFrame, list[Violation]]:
    """Type every contract column of `raw`; missing optional columns get their default.

    Columns that fail to parse are reported and left as all-missing, so later checks can
    still run on the rest of the table. The typed frame keeps `raw`'s index when it
    numbers rows (integers), so later checks name the same rows.
    """
    if not pd.api.types.is_integer_dtype(raw.index.dtype):
        raw = raw.reset_index(drop=True)
    violations: list[Violation] = []
    typed: dict[str, pd.Series] = {}
    for col in table.columns:
        if col.name not in raw.columns:
            typed[col.name] = _missing_column(col, raw.index)
            continue
        series, bad = _parse_column(col, raw[col.name])
        if bad.any():
            where = np.flatnonzero(bad.to_numpy())
            violations.append(Violation(
                table.name, col.name,
                f"values that are not a valid {col.kind.value}",
                _FIXES.get(col.kind, "fix the values"),
                examples(raw.index[where], raw[col.name].to_numpy()[where]),
                count=len(where),
            ))
        if col.default is not None and series.hasnans:
            series = series.fillna(col.default)
        typed[col.name] = series
    # The typed columns are new series: no need for the constructor's defensive copy.
    return pd.DataFrame(typed, index=raw.index, copy=False), violations


def typed_values(col: Column, values: pd.Series) -> pd.Series:
    """`values` typed as `parse_table` types column `col` (missing where unparseable)."""
    return _parse_column(col, values)[0]


def _missing_column(col: Column, index: pd.Index) -> pd.Series:
    value = col.default  # None when the column has no default
    return _store(col, pd.Series([value] * len(index), index=index, dtype=object))


def _parse_column(col: Column, values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """The typed column and a mask of values present but unparseable."""
    if col.kind in TEXT_KINDS and has_text_values(values):
        # Ids and categories repeat: parse each distinct text once, then spread it back.
        return by_distinct_value(values, lambda distinct: _parse_values(col, distinct))
    if col.kind is Kind.TIMESTAMP and pd.api.types.is_datetime64_any_dtype(values.dtype):
        # Already dates: no text round trip. Only dates beyond the nanosecond range a
        # timestamp is stored in (Parquet keeps microseconds: year 1 or 3000) are bad.
        parsed = to_utc(values)
        return parsed, values.notna() & parsed.isna()
    return _parse_values(col, values)


def _is_typed(values: pd.Series) -> bool:
    """Whether the values carry a number, boolean or date type rather than text.

    Such values are never blank, so `present` is just `notna` for them: no need to
    render millions of them as text to find out.
    """
    return (pd.api.types.is_numeric_dtype(values.dtype)
            or pd.api.types.is_datetime64_any_dtype(values.dtype))


def _parse_values(col: Column, values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """`_parse_column` on any values, row by row: the definition the fast paths must match."""
    if _is_typed(values):
        present = values.notna()
    else:
        present = values.notna() & (values.astype(str).str.strip() != "")
    if col.kind is Kind.TIMESTAMP:
        parsed = to_utc(values)
    elif col.kind in (Kind.FLOAT, Kind.SMALL_FLOAT, Kind.INT):
        parsed = _to_number(values, _LIMITS.get(col.kind))
        if col.kind is Kind.INT:
            fractional = parsed.notna() & (parsed % 1 != 0)
            parsed = parsed.mask(fractional)
    elif col.kind is Kind.BOOL:
        parsed = _to_bool(values)
    else:
        parsed = _to_text(values, lower=col.allowed is not None)
    bad = present & parsed.isna()
    return _store(col, parsed.where(present)), bad


def to_utc(values: pd.Series) -> pd.Series:
    """Timestamps as UTC; naive ones are taken to be UTC already. Dates that do not fit
    the stored nanosecond range (years such as 1 or 3000) become missing."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        parsed = values.dt.tz_convert("UTC")
    elif pd.api.types.is_datetime64_dtype(values.dtype):
        parsed = values.dt.tz_localize("UTC")
    else:
        text = values.astype("str").str.strip()
        parsed = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    # Parsed text and Parquet's microseconds reach years that do not fit nanoseconds:
    # unparseable, like any typo (casting them would raise instead).
    representable = parsed.isna() | ((parsed >= _EARLIEST) & (parsed <= _LATEST))
    return parsed.where(representable).astype(TIMESTAMP_DTYPE)


def _to_number(values: pd.Series, limit: float | None) -> pd.Series:
    """Numbers as floats; anything else, and numbers beyond `limit`, missing.

    Booleans and dates are not numbers even though numpy would count them (True as 1, a
    date as its nanoseconds); as CSV text they do not parse either, so a typed Parquet
    column gives what its CSV export gives. Text and mixed values parse as text. A value
    too large for the stored type would otherwise turn into infinity or wrap around.
    """
    dtype = values.dtype
    if (pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_datetime64_any_dtype(dtype)
            or pd.api.types.is_timedelta64_dtype(dtype)):
        return pd.Series(np.nan, index=values.index, dtype="float64")
    if pd.api.types.is_object_dtype(dtype):
        # Python objects (Parquet decimals, booleans with gaps) parse as their text.
        values = values.astype("str").where(values.notna())
    parsed = pd.to_numeric(values, errors="coerce").astype("float64")
    within = np.isfinite(parsed) if limit is None else parsed.abs() <= limit
    return parsed.where(within)


EXACT_INTEGERS = 2**53  # the largest whole floats that are still exact integers


def _to_bool(values: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.astype("boolean")
    text = values.astype("str").str.strip().str.lower()
    out = pd.Series(pd.NA, index=values.index, dtype="boolean")
    out[text.isin(_TRUE)] = True
    out[text.isin(_FALSE)] = False
    return out


def _to_text(values: pd.Series, *, lower: bool) -> pd.Series:
    known = values.dropna()
    if (pd.api.types.is_float_dtype(values.dtype) and (known % 1 == 0).all()
            and (known.abs() <= EXACT_INTEGERS).all()):
        # Integer ids stored as floats because of missing values: 17.0 means "17"
        # (while a float holds the integer exactly; larger ones stay as written).
        values = values.astype("Int64")
    text = values.astype("str").where(values.notna())
    text = text.str.strip()
    return text.str.lower() if lower else text


def _store(col: Column, series: pd.Series) -> pd.Series:
    """Cast to the dtype the contract stores `col` as."""
    if col.kind is Kind.TIMESTAMP:
        return pd.to_datetime(series, utc=True).astype(TIMESTAMP_DTYPE)
    if col.kind is Kind.FLOAT:
        return series.astype("float64")
    if col.kind is Kind.SMALL_FLOAT:
        return series.astype("float32")
    if col.kind is Kind.INT:
        return series.astype("Float64").astype("Int32")
    if col.kind is Kind.BOOL:
        return series.astype("boolean")
    if col.kind is Kind.CATEGORY:
        return series.astype("str").where(series.notna()).astype("category")
    return series.astype("str").where(series.notna())
