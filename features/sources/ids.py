"""Which records name one of a set of account ids.

Validation asks it of tens of millions of rows against the accounts table, evidence of
one scoring run's accounts. pandas' `isin` on Arrow-backed text first turns every known
id into an Arrow scalar, one at a time; asked straight through Arrow it is one pass.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def among(values: pd.Series, known: pd.Index) -> np.ndarray:
    """Whether each of `values` is one of `known` (a missing value never is)."""
    found = pc.is_in(pa.array(values.array), value_set=pa.array(known.array),
                     skip_nulls=True)
    return np.asarray(pc.fill_null(found, False).to_numpy(zero_copy_only=False), dtype=bool)
