"""Table fingerprints that do not depend on row order, so parts of a table add up.

A fingerprint says whether two copies of a table hold the same records: equal data gives
equal fingerprints whatever the file format, row order or split. Each row is hashed
(pandas' `hash_pandas_object`, by value, so a category and its text hash alike) and the
table keeps its row count, the sum of the row hashes and the sum of their squares
(modulo 2^64): a multiset digest, so a table split into account buckets and hashed bucket
by bucket gives exactly the whole table's fingerprint.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class TableDigest:
    rows: int = 0
    total: int = 0  # sum of the row hashes, mod 2^64
    squares: int = 0  # sum of their squares, mod 2^64

    def __add__(self, other: TableDigest) -> TableDigest:
        mask = (1 << 64) - 1
        return TableDigest(self.rows + other.rows, (self.total + other.total) & mask,
                           (self.squares + other.squares) & mask)

    def hexdigest(self) -> str:
        text = f"{self.rows}:{self.total}:{self.squares}".encode()
        return hashlib.sha256(text).hexdigest()[:16]


def digest(frame: pd.DataFrame) -> TableDigest:
    """The digest of a typed table's rows."""
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)
    with np.errstate(over="ignore"):  # uint64 arithmetic wraps, which is the point
        total = int(hashed.sum(dtype=np.uint64))
        squares = int((hashed * hashed).sum(dtype=np.uint64))
    return TableDigest(len(frame), total, squares)
