"""The account page's two small SVG charts, laid out in Python so the template only draws.

The score history (probability over the runs on a time axis, the risk bands shaded) and
the weekly usage trend behind the reasons.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from features.point_in_time.evidence import UsageWeek
from serving.risk import Bands
from serving.store.models import HistoryPoint

# -- the score-history chart ---------------------------------------------------------------------

@dataclass(frozen=True)
class ChartPoint:
    x: float
    y: float
    as_of: dt.date
    probability: float
    band: str


@dataclass(frozen=True)
class Zone:
    band: str
    y: float
    height: float


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    points: list[ChartPoint]
    line: str  # the polyline's points attribute
    y_ticks: list[tuple[float, str]]
    x_labels: list[tuple[float, str, str]]  # x, text, text-anchor
    zones: list[Zone]


DATE_LABELS = 4  # at most, so that "Mon YYYY" labels never touch on the small chart


def history_chart(history: Sequence[HistoryPoint], bands: Bands, width: int = 360,
                  height: int = 190) -> Chart:
    """Probability over the runs (oldest left), on a time axis, with the bands shaded.

    The chart is small on purpose: drawn at about this size on a phone, its labels stay
    readable; on a laptop it is scaled up a little."""
    left, right, top, bottom = 36, width - 58, 10, height - 24
    ordered = sorted(history, key=lambda h: (h.as_of, h.run_id))
    peak = max([h.probability for h in ordered] + [bands.high * 1.5])
    step = 0.1 if peak <= 0.6 else 0.2
    ceiling = min(1.0, math.ceil(peak / step - 1e-9) * step)

    def y_of(p: float) -> float:
        return round(bottom - (bottom - top) * p / ceiling, 1)

    days = [(h.as_of - ordered[0].as_of).days for h in ordered] if ordered else []
    span = max(days, default=0)

    def x_of(i: int) -> float:
        if span == 0:
            return float((left + right) // 2) if len(ordered) == 1 else \
                left + (right - left) * i / max(len(ordered) - 1, 1)
        return round(left + (right - left) * days[i] / span, 1)

    pts = [ChartPoint(x_of(i), y_of(h.probability), h.as_of, h.probability, h.band)
           for i, h in enumerate(ordered)]
    ticks = [(y_of(i * step), f"{i * step * 100:.0f}%")
             for i in range(round(ceiling / step) + 1)]
    shown = _spread(len(pts), DATE_LABELS)
    x_labels = [(pts[i].x, _tick_date(pts[i].as_of, span, pts[shown[k - 1]].as_of
                                      if k else None), _anchor(i, len(pts)))
                for k, i in enumerate(shown)]
    zones = [Zone("high", y_of(ceiling), y_of(bands.high) - y_of(ceiling)),
             Zone("medium", y_of(bands.high), y_of(bands.medium) - y_of(bands.high)),
             Zone("low", y_of(bands.medium), y_of(0) - y_of(bands.medium))]
    line = " ".join(f"{p.x},{p.y}" for p in pts)
    return Chart(width, height, left, right, top, bottom, pts, line, ticks, x_labels, zones)


def _tick_date(day: dt.date, span_days: int, before: dt.date | None) -> str:
    """"Jul 2025", then "Sep" while the year stays; days within two months."""
    if span_days <= 62:
        return f"{day.day} {day:%b}"
    return f"{day:%b}" if before is not None and before.year == day.year else f"{day:%b %Y}"


def _anchor(i: int, n: int) -> str:
    """Keep the first and last date labels inside the chart."""
    if n > 1 and i == 0:
        return "start"
    if n > 1 and i == n - 1:
        return "end"
    return "middle"


def _spread(n: int, most: int) -> list[int]:
    """At most `most` indexes of n, evenly spread, always the first and the last."""
    if n <= most:
        return list(range(n))
    return sorted({round(i * (n - 1) / (most - 1)) for i in range(most)})


# -- the evidence behind the reasons -------------------------------------------------------------

@dataclass(frozen=True)
class UsageBar:
    x: float
    y: float
    height: float
    week_start: dt.date
    value: float


@dataclass(frozen=True)
class UsageTrend:
    """Weekly usage as small bars: active users when the source has user ids, else logins."""

    measure: str  # "active users" or "logins"
    bars: list[UsageBar]
    width: int
    height: int
    bar_width: float
    span: int  # weeks averaged at each end
    first: float  # the mean of the first `span` weeks, and of the last `span`
    last: float

    @property
    def change(self) -> float | None:
        """Percent change from the first four weeks to the last four; None from zero."""
        return None if self.first == 0 else 100.0 * (self.last - self.first) / self.first


def usage_trend(weeks: Sequence[UsageWeek], width: int = 240, height: int = 48) -> UsageTrend:
    users = bool(weeks) and all(w.active_users is not None for w in weeks)
    values = [float(w.active_users or 0) if users else w.logins for w in weeks]
    peak = max(values, default=0.0) or 1.0
    slot = width / max(len(values), 1)
    bars = [UsageBar(round(i * slot + 1, 1), round(height - height * v / peak, 1),
                     round(height * v / peak, 1), w.week_start, v)
            for i, (w, v) in enumerate(zip(weeks, values, strict=True))]
    span = max(1, len(values) // 3)  # a third of the weeks at each end
    return UsageTrend("active users" if users else "logins", bars, width, height,
                      round(max(slot - 2, 1), 1), span, _mean(values[:span]),
                      _mean(values[-span:]))


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0
