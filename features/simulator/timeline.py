"""The simulated calendar: day indices, timestamps, weekly seasonality and holidays.

Internally every date is an integer day index relative to ``config.start`` (day 0) and
every timestamp is int64 microseconds since the Unix epoch, UTC. Day indices may be
negative (tenure before the window). Calendar months are used for terms, so a monthly
term that starts on 31 January ends on 28/29 February, like a billing system would.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from features.simulator.events import REGIONS

US_PER_DAY = 86_400_000_000
US_PER_SECOND = 1_000_000
_EPOCH = dt.date(1970, 1, 1)

# Fixed-date public holidays (month, day) with a usage lull; a deliberately short list.
_GLOBAL_HOLIDAYS = ((1, 1), (12, 24), (12, 25), (12, 26), (12, 31))
_REGIONAL_HOLIDAYS: dict[str, tuple[tuple[int, int], ...]] = {
    "NA": ((7, 4), (11, 28), (11, 29), (9, 2), (5, 27)),
    "EMEA": ((5, 1), (4, 1), (5, 20), (10, 3)),
    "APAC": ((2, 10), (2, 11), (2, 12), (10, 1), (10, 2)),
    "LATAM": ((2, 12), (2, 13), (5, 1), (9, 16), (11, 2)),
}
# Typical business-hours centre per region, in UTC hours, for event times of day.
REGION_HOUR_UTC: dict[str, float] = {"NA": 16.0, "EMEA": 10.0, "APAC": 3.0, "LATAM": 14.0}


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus ``months`` calendar months, clamped to the end of the month."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Timeline:
    """The window ``[start, end]`` and the per-region daily usage factors inside it."""

    start: dt.date
    n_days: int
    day_factor: npt.NDArray[np.float64]  # (n_regions, n_days): weekday x holiday factor
    is_holiday: npt.NDArray[np.bool_]  # (n_regions, n_days)

    @property
    def last_day(self) -> int:
        """Index of ``config.end``, the last day covered."""
        return self.n_days - 1

    @property
    def start_us(self) -> int:
        return (self.start - _EPOCH).days * US_PER_DAY

    def day_index(self, day: dt.date) -> int:
        return (day - self.start).days

    def date_of(self, index: int) -> dt.date:
        return self.start + dt.timedelta(days=index)

    def day_us_int(self, index: int) -> int:
        """Midnight UTC of day ``index`` in epoch microseconds (one scalar, fast)."""
        return index * US_PER_DAY + self.start_us

    def day_us(self, index: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Midnight UTC of day ``index`` in epoch microseconds (vectorised)."""
        return np.asarray(index, dtype=np.int64) * US_PER_DAY + self.start_us


def build_timeline(
    start: dt.date,
    n_days: int,
    weekday_factors: tuple[float, ...],
    holiday_factor: float,
) -> Timeline:
    """Precompute the calendar once; every account reuses it."""
    dates = [start + dt.timedelta(days=i) for i in range(n_days)]
    weekday = np.array([d.weekday() for d in dates], dtype=np.int64)
    month_day = [(d.month, d.day) for d in dates]
    factors = np.asarray(weekday_factors, dtype=np.float64)[weekday]
    day_factor = np.empty((len(REGIONS), n_days))
    holidays = np.zeros((len(REGIONS), n_days), dtype=bool)
    for r, region in enumerate(REGIONS):
        region_days = set(_GLOBAL_HOLIDAYS) | set(_REGIONAL_HOLIDAYS[region])
        holidays[r] = [md in region_days for md in month_day]
        day_factor[r] = np.where(holidays[r], factors * holiday_factor, factors)
    return Timeline(start=start, n_days=n_days, day_factor=day_factor, is_holiday=holidays)
