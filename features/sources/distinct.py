"""Apply a row-by-row text parser once per distinct value, then spread the result back.

Ids and categories repeat: 44 million usage rows name about 10,000 accounts, 300,000
users and a few dozen event types. Stripping, lower-casing and re-typing every row of
such a column costs minutes and gigabytes; doing it on the distinct values and indexing
the answers with each row's code gives the same column in a fraction of that. The result
is identical only for parsers that treat each value on its own, which is what
`features.sources.parsing` does with text.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

Parsed = tuple[pd.Series, pd.Series]


def has_text_values(values: pd.Series) -> bool:
    """Whether `values` are strings (plain or dictionary-encoded) that compare by text.

    Object columns are left out: there 1, 1.0 and True are one distinct value but three
    different texts.
    """
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        dtype = dtype.categories.dtype
    return isinstance(dtype, pd.StringDtype)


def by_distinct_value(values: pd.Series, parse: Callable[[pd.Series], Parsed]) -> Parsed:
    """`parse(values)` computed on the distinct values of `values` only.

    `parse` returns the typed values and a mask of unparseable ones, both aligned with
    its input; missing values are never passed to it and stay missing.
    """
    codes, distinct = _codes(values)
    typed, bad = parse(distinct)
    return _spread(typed, codes, values.index), pd.Series(
        np.append(bad.to_numpy(dtype=bool), False)[codes], index=values.index)


def _codes(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Each row's position among the distinct values (-1 when missing), and the values."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return _used_categories(values.cat.codes.to_numpy(), values.cat.categories)
    codes, uniques = values.factorize()
    return codes, pd.Series(uniques)


def _used_categories(codes: np.ndarray, categories: pd.Index) -> tuple[np.ndarray, pd.Series]:
    """The codes and categories without unused categories, which are not data.

    Marking the codes seen is linear; pandas' `remove_unused_categories` sorts them (11 s on
    44 M rows). Files rarely hold unused categories, so codes are usually kept as they are.
    """
    seen = np.zeros(len(categories) + 1, dtype=bool)
    seen[codes] = True  # code -1 (missing) marks the extra last slot
    used = seen[:-1]
    if used.all():
        return codes, pd.Series(categories)
    # New position of each used category; unused ones are never looked up. Index -1 (a
    # missing row) picks the appended -1.
    position = np.append(np.cumsum(used) - 1, -1)
    return position[codes], pd.Series(categories[used])


def _spread(typed: pd.Series, codes: np.ndarray, index: pd.Index) -> pd.Series:
    """The typed value of each row's code; code -1 (missing) stays missing."""
    if isinstance(typed.dtype, pd.CategoricalDtype):
        # Index -1 picks the appended -1: a missing row keeps the missing code.
        row_codes = np.append(typed.cat.codes.to_numpy(), -1)[codes]
        return pd.Series(pd.Categorical.from_codes(row_codes, dtype=typed.dtype),
                         index=index)
    return pd.Series(typed.array.take(codes, allow_fill=True), index=index)
