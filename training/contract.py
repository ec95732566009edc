"""The feature contract that travels with a model: names, order, kinds and categories.

Serving never keeps its own feature order. It asks the model's contract to check and
encode whatever it received, so a model trained on one column order can never be fed
another. Categoricals are encoded as codes of the categories seen in training; an
unseen category becomes missing, as LightGBM treats it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from features.errors import ChurnlensError

# A float64 holds magnitudes up to about 1.8e308; numbers sent past this are refused.
LARGEST_VALUE = 1e300


class FeatureContractError(ChurnlensError):
    """Features given for scoring do not match what the model was trained on."""

    http_status = 422


@dataclass(frozen=True)
class FeatureContract:
    names: tuple[str, ...]
    # feature -> its categories, in code order; features absent here are numeric.
    categories: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    families: Mapping[str, str] = field(default_factory=dict)
    # Features that were missing in some training rows (no NPS answer yet, say). A null
    # for any other feature means the caller lost data, so scoring refuses it.
    nullable: frozenset[str] | None = None  # None: every feature may be null
    # feature -> {segment or "*": its typical value among renewing training rows}
    # (`training.references`); what a reason compares the account with.
    references: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # signal -> the spread of its summed contributions over the training rows: what a
    # reason's push is measured against (`training.references.signal_spreads`).
    signal_spreads: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, names: Sequence[str],
                   families: Mapping[str, str] | None = None) -> FeatureContract:
        """The contract of the features `names` as typed in `frame` (the training rows)."""
        categories = {
            name: tuple(str(c) for c in frame[name].cat.categories)
            for name in names
            if isinstance(frame[name].dtype, pd.CategoricalDtype)
        }
        nullable = frozenset(name for name in names if frame[name].isna().any())
        return cls(tuple(names), categories, dict(families or {}), nullable)

    def reference(self, name: str, segment: Any) -> tuple[str, Any] | None:
        """(group, typical value) for a feature: of the account's segment when known,
        else of all segments; None when the model carries no reference for it."""
        typical = self.references.get(name)
        if not typical:
            return None
        key = str(segment) if segment is not None and str(segment) in typical else "*"
        return (key, typical[key]) if key in typical else None

    @property
    def categorical_indices(self) -> list[int]:
        return [i for i, name in enumerate(self.names) if name in self.categories]

    def check_columns(self, columns: Sequence[str], *, strict: bool = False) -> None:
        """Refuse input that lacks a feature, or (when `strict`) names one the model lacks."""
        given = set(columns)
        if strict:
            unknown = sorted(given - set(self.names))
            if unknown:
                raise FeatureContractError(
                    f"Unknown features: {', '.join(unknown[:10])}. The model takes exactly "
                    f"the features GET /v1/model lists; check the spelling."
                )
        missing = [n for n in self.names if n not in given]
        if missing:
            raise FeatureContractError(
                f"Missing features: {', '.join(missing[:10])}"
                f"{' …' if len(missing) > 10 else ''}. Send every feature of the model "
                f"(GET /v1/model lists them); use null for an unknown value."
            )

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """The model's input matrix (float64, NaN for missing) from a feature frame."""
        self.check_columns(list(frame.columns))
        out = np.empty((len(frame), len(self.names)), dtype=np.float64)
        for j, name in enumerate(self.names):
            values = frame[name]
            if name in self.categories:
                out[:, j] = self._codes(name, values)
            else:
                try:
                    out[:, j] = pd.to_numeric(values, errors="raise").astype("float64")
                except (ValueError, TypeError):
                    raise FeatureContractError(
                        f"Feature {name} must be a number (or null); got "
                        f"{values.iloc[0]!r}."
                    ) from None
        return out

    def encode_records(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Like `encode`, from plain dicts without pandas: the API's per-request path."""
        out = np.full((len(records), len(self.names)), np.nan, dtype=np.float64)
        lookups = self._lookups
        for i, record in enumerate(records):
            for j, name in enumerate(self.names):
                value = record.get(name)
                if value is None:
                    if self.nullable is not None and name not in self.nullable:
                        raise FeatureContractError(
                            f"Feature {name} is null, but it was never missing in training "
                            f"(row {i + 1}). Send its value; only "
                            f"{', '.join(sorted(self.nullable)[:8]) or 'no features'}"
                            f"{' …' if len(self.nullable) > 8 else ''} may be null."
                        )
                    continue
                if name in lookups:
                    if not isinstance(value, str):
                        raise FeatureContractError(
                            f"Feature {name} is a category and must be text (or null); "
                            f"got {value!r} (row {i + 1}).")
                    out[i, j] = lookups[name].get(value, np.nan)
                elif isinstance(value, bool) or not isinstance(value, int | float):
                    raise FeatureContractError(
                        f"Feature {name} must be a number (or null); got {value!r}."
                    )
                else:
                    number = _finite(value)
                    if number is None:
                        raise FeatureContractError(
                            f"Feature {name} must be a finite number within ±1e300 (or "
                            f"null); got {value!r} (row {i + 1}).")
                    out[i, j] = number
        return out

    @cached_property
    def _lookups(self) -> dict[str, dict[str, float]]:
        return {name: {c: float(i) for i, c in enumerate(cats)}
                for name, cats in self.categories.items()}

    def _codes(self, name: str, values: pd.Series) -> np.ndarray:
        cats = pd.CategoricalDtype(list(self.categories[name]))
        codes = values.astype("str").where(values.notna()).astype(cats).cat.codes
        out = codes.to_numpy(dtype=np.float64, copy=True)
        out[out < 0] = np.nan
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"names": list(self.names),
                "categories": {k: list(v) for k, v in self.categories.items()},
                "families": dict(self.families),
                "nullable": None if self.nullable is None else sorted(self.nullable),
                "references": {k: dict(v) for k, v in self.references.items()},
                "signal_spreads": dict(self.signal_spreads)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureContract:
        return cls(tuple(data["names"]),
                   {k: tuple(v) for k, v in data.get("categories", {}).items()},
                   dict(data.get("families", {})),
                   None if data.get("nullable") is None else frozenset(data["nullable"]),
                   {k: dict(v) for k, v in data.get("references", {}).items()},
                   {k: float(v) for k, v in data.get("signal_spreads", {}).items()})


def _finite(value: int | float) -> float | None:
    """The value as a float, or None for what a float64 model input cannot hold."""
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) and abs(number) <= LARGEST_VALUE else None
