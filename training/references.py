"""What is normal: each feature's typical value among renewing accounts, per segment.

A reason that says "24 session minutes per active user" leaves a CSM to guess whether 24
is low; "renewing mid-market accounts: 61" answers it. So at training time every feature
gets its median (a category: its most common value) over the training rows whose term
renewed, per segment and over all segments, and the model's feature contract carries it.
Only training rows are used, so the reference knows nothing the model may not.

A feature that is missing for most renewing accounts ("days since the last
champion-left note": most never had one) has the typical value None: "typically none".

What is a strong reason is relative too. Seat adoption pushes most accounts' risk a
little, a champion's departure pushes few accounts' a lot; ranked by raw push, the
signal that moves with overall health would top nearly every red account. So each
signal's usual spread (the standard deviation of its summed contributions over the
training rows) travels with the model as well, and reasons rank signals by their push
against it: what is unusually wrong with this account.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

SEGMENT = "segment"
ALL = "*"  # the key of the reference over all segments


def typical_values(frame: pd.DataFrame, rows: np.ndarray, names: Sequence[str]
                   ) -> dict[str, dict[str, Any]]:
    """{feature: {segment (or ALL): typical value}} over the renewing ones of `rows`."""
    train = frame.iloc[rows]
    renewing = train[~train["churned"].astype(bool)]
    groups: list[tuple[str, pd.DataFrame]] = [(ALL, renewing)]
    if SEGMENT in renewing.columns:
        groups += [(str(key), part) for key, part in
                   renewing.groupby(renewing[SEGMENT].astype("str"), sort=True)]
    return {name: {key: _typical(part[name]) for key, part in groups
                   if len(part) and (key == ALL or name != SEGMENT)}
            for name in names if name in renewing.columns}


def _typical(values: pd.Series) -> Any:
    if values.empty or values.isna().mean() > 0.5:
        return None
    values = values.dropna()
    if pd.api.types.is_bool_dtype(values.dtype):
        return bool(values.mode().iloc[0])
    if pd.api.types.is_numeric_dtype(values.dtype):
        return float(np.median(values.to_numpy(dtype=np.float64)))
    mode = values.astype("str").mode()
    return str(mode.iloc[0])


def signal_spreads(contributions: np.ndarray, names: Sequence[str],
                   signal_of: Callable[[str], str]) -> dict[str, float]:
    """{signal: standard deviation of its summed contributions} over the given rows
    (training rows x features, log-odds); signals that never push get none."""
    signals = [signal_of(name) for name in names]
    out = {}
    for signal in sorted(set(signals)):
        mine = [j for j, s in enumerate(signals) if s == signal]
        spread = float(contributions[:, mine].sum(axis=1).std())
        if spread > 0:
            out[signal] = spread
    return out
