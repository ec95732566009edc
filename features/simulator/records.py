"""Column arrays of one account's (or one chunk's) records, before they become tables.

Signals are produced as plain numpy arrays with small integer codes for categorical
columns; strings are materialised once per chunk with Arrow ``take`` (no per-row
Python string work). Timestamps are int64 epoch microseconds UTC; -1 marks a null
timestamp, -1 a null code and NaN a null float.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Self

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
I8 = npt.NDArray[np.int8]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]


class _Columns:
    """Mixin for the record dataclasses: empty instances, concatenation, row selection.

    Field annotations name their dtype (``I64``, ``F64``...; strings under postponed
    evaluation), which is how `empty` knows each column's dtype.
    """

    @classmethod
    def empty(cls) -> Self:
        kinds: dict[str, Any] = {
            f.name: np.empty(0, dtype=_DTYPES[str(f.type)]) for f in fields(_dc(cls))
        }
        return cls(**kinds)

    @classmethod
    def concat(cls, parts: list[Self]) -> Self:
        if not parts:
            return cls.empty()
        names = [f.name for f in fields(_dc(cls))]
        return cls(**{n: np.concatenate([getattr(p, n) for p in parts]) for n in names})

    def __len__(self) -> int:
        return len(getattr(self, fields(_dc(self))[0].name))

    def take(self, index: npt.NDArray[np.integer]) -> Self:
        names = [f.name for f in fields(_dc(self))]
        return type(self)(**{n: getattr(self, n)[index] for n in names})


def _dc(obj: Any) -> Any:
    """The dataclass behind a record (typed loosely: the mixin itself is not one)."""
    return obj


_DTYPES: dict[str, type] = {
    "I64": np.int64, "I32": np.int32, "I8": np.int8, "F64": np.float64, "B": np.bool_,
}  # fmt: skip


@dataclass(frozen=True)
class UsageRecords(_Columns):
    account: I32  # account index
    ts: I64
    event: I8  # index into events.EVENT_TYPES
    user: I32  # user number within the account; -1 = null
    quantity: F64


@dataclass(frozen=True)
class TicketRecords(_Columns):
    account: I32
    number: I32  # ticket number within the account
    opened: I64
    closed: I64  # -1 = still open at the end of the window
    priority: I8
    category: I8
    csat: F64  # NaN = not rated
    escalated: B
    first_response: F64


@dataclass(frozen=True)
class SurveyRecords(_Columns):
    account: I32
    ts: I64
    kind: I8  # index into events.SURVEY_KINDS
    score: F64
    comment: I32  # index into texts.COMMENTS; -1 = null


@dataclass(frozen=True)
class NoteRecords(_Columns):
    account: I32
    ts: I64
    sentiment: I8  # index into events.SENTIMENTS
    text: I32  # index into texts.NOTES
