"""What a training set is built from: its snapshot dates, label grace and key features.

A spec is saved in the training set's manifest, so the same spec on the same sources
rebuilds the same file. Specs are strict (`extra="forbid"`): a misspelt field is an error.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal, Self

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from features.errors import ConfigError
from features.point_in_time.spine import snapshot_dates


class TrainingSetSpec(BaseModel):
    """A training set's snapshots: a start/end range on a grid, or explicit dates."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(default="default", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                      description="Folder name under training_sets/.")
    start: dt.date | None = Field(
        default=None, description="First as_of; defaults to 90 days after activity history "
                     "starts.")
    end: dt.date | None = Field(
        default=None, description="Last as_of; defaults to the data's end.")
    freq: Literal["monthly", "weekly"] = Field(
        default="monthly", description="Grid: first day of each month, or each Monday (00:00 UTC).")
    dates: tuple[dt.date, ...] | None = Field(
        default=None, description="Explicit as_of dates instead of a start/end grid.")
    grace_days: int = Field(default=30, ge=0, le=365,
                            description="Days after a term's end a renewal may still start.")
    key_features: tuple[str, ...] | None = Field(
        default=None, description="Product event types with their own usage features; "
                          "defaults to those found in usage_events.")

    @model_validator(mode="after")
    def _one_way_to_give_dates(self) -> Self:
        if self.dates is not None and (self.start is not None or self.end is not None):
            raise ValueError("give either explicit dates or a start/end range, not both")
        if self.dates is not None and not self.dates:
            raise ValueError("dates must name at least one as_of date")
        if self.start and self.end and self.end < self.start:
            raise ValueError("end must not be before start")
        return self

    def as_of_dates(self, first_start: pd.Timestamp, data_end: pd.Timestamp
                    ) -> pd.DatetimeIndex:
        """The snapshot dates, checked against the data: none may lie after its end."""
        if self.dates is not None:
            dates = pd.DatetimeIndex([pd.Timestamp(d, tz="UTC") for d in sorted(set(self.dates))])
        else:
            start = self.start or first_start.date()
            end = self.end or data_end.date()
            dates = snapshot_dates(start, end, self.freq)
        check_as_of(dates, data_end)
        if dates.empty:
            raise ConfigError(f"the training set {self.name!r} has no snapshot dates between "
                              f"{self.start or first_start.date()} and "
                              f"{self.end or data_end.date()}; widen the range")
        return dates


def check_as_of(dates: pd.DatetimeIndex, data_end: pd.Timestamp) -> None:
    """Refuse snapshots after the data's end: their windows would look like silence."""
    limit = data_end.normalize() + pd.Timedelta(days=1)
    late = dates[dates > limit]
    if len(late):
        raise ConfigError(
            f"as_of {late[0].date()} is after the data's end ({data_end.date()}); the "
            f"latest possible snapshot is {limit.date()}. Choose an earlier end date."
        )
