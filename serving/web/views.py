"""What the CSM page shows, worked out in Python so the templates only lay it out.

The list's filters as read from the query string (with messages a person can act on),
numbers and dates for reading, reasons grouped by family with their bar lengths, and the
rows of the CSV export. The charts' geometry is in `charts`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast
from urllib.parse import urlencode

from features.point_in_time.signals import SIGNALS
from serving.risk import Reason
from serving.store.models import (
    BANDS,
    MAX_PAGE,
    MAX_RENEWAL_DAYS,
    SORTS,
    Band,
    ListQuery,
    RankedAccount,
    Sort,
)

PER_PAGE = 50
UNASSIGNED = "(unassigned)"  # the filter value that picks a blank owner or segment
EXPORT_COLUMNS = ("account_id", "name", "csm_owner", "segment", "arr", "renewal_date",
                  "probability", "band", "arr_at_risk", "delta", "top_reason")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MINUS = "\u2212"


# -- the list's filters ---------------------------------------------------------------------

@dataclass(frozen=True)
class Filters:
    """The ranked list's sort, filters and page, as the query string carries them.

    `owner` and `segment` are stored values ('' for a blank one); None means all.
    """

    sort: Sort = "risk"
    owner: str | None = None
    segment: str | None = None
    band: Band | None = None
    renewal_within_days: int | None = None
    page: int = 1

    def query(self, scope: frozenset[str] | None, page: int | None = None,
              per_page: int = PER_PAGE) -> ListQuery:
        """The store query of these filters within `scope` (a book key's CSMs)."""
        return ListQuery(sort=self.sort, csm_owner=self.owner, segment=self.segment,
                         band=self.band, renewal_within_days=self.renewal_within_days,
                         page=self.page if page is None else page, per_page=per_page,
                         scope=scope)

    @property
    def narrowing(self) -> int:
        """How many filters (not the sort or page) are set."""
        return sum(v is not None for v in (self.owner, self.segment, self.band,
                                           self.renewal_within_days))

    @property
    def narrowed(self) -> bool:
        return self.narrowing > 0

    def params(self, **changes: Any) -> dict[str, str]:
        """The query-string parameters of these filters with `changes`, defaults left out."""
        f = replace(self, **changes)
        out: dict[str, str] = {}
        if f.sort != "risk":
            out["sort"] = f.sort
        if f.owner is not None:
            out["owner"] = f.owner or UNASSIGNED
        if f.segment is not None:
            out["segment"] = f.segment or UNASSIGNED
        if f.band is not None:
            out["band"] = f.band
        if f.renewal_within_days is not None:
            out["renewal"] = str(f.renewal_within_days)
        if f.page != 1:
            out["page"] = str(f.page)
        return out

    def url(self, path: str = "/", **changes: Any) -> str:
        params = self.params(**changes)
        return f"{path}?{urlencode(params)}" if params else path


def parse_filters(sort: str | None = None, owner: str | None = None,
                  segment: str | None = None, band: str | None = None,
                  renewal: str | None = None, page: str | None = None
                  ) -> tuple[Filters, list[str]]:
    """Filters from query-string values; a value that cannot be used is left out and
    named in the returned problems."""
    problems: list[str] = []
    chosen_sort: Sort = "risk"
    if sort and sort in SORTS:
        chosen_sort = cast(Sort, sort)
    elif sort:
        problems.append(f"Sort by “{sort}” is not available; sorted by risk instead.")
    chosen_band: Band | None = None
    if band and band in BANDS:
        chosen_band = cast(Band, band)
    elif band:
        problems.append(f"There is no “{band}” risk band; use high, medium or low.")
    days = _whole(renewal)
    if renewal and renewal.strip() and (days is None or not 0 <= days <= MAX_RENEWAL_DAYS):
        problems.append(f"“Renewal within” takes a whole number of days from 0 to "
                        f"{MAX_RENEWAL_DAYS:,}; “{renewal}” was ignored.")
        days = None
    number = _whole(page)
    if page and (number is None or not 1 <= number <= MAX_PAGE):
        problems.append(f"There is no page “{page}”; showing the first page.")
        number = None
    return Filters(chosen_sort, _stored(owner), _stored(segment), chosen_band, days,
                   number or 1), problems


def _whole(text: str | None) -> int | None:
    if text is None or not text.strip().isdigit():
        return None
    return int(text.strip())


def _stored(value: str | None) -> str | None:
    if not value:
        return None
    return "" if value == UNASSIGNED else value


# -- reading numbers and dates --------------------------------------------------------------

def money(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f}"


def compact_money(value: float) -> str:
    """1,234,567 → 1.23M; 48,500 → 48.5k; under 10,000 in full."""
    if abs(value) >= 1e6:
        return f"{value / 1e6:,.3g}M" if abs(value) < 1e9 else f"{value / 1e6:,.0f}M"
    if abs(value) >= 1e4:
        return f"{value / 1e3:,.3g}k"
    return f"{value:,.0f}"


def percent(probability: float) -> str:
    if 0 < probability < 0.005:
        return "<1%"
    return f"{probability * 100:.0f}%"


def points(delta: float | None) -> str:
    """A change in probability in percentage points, signed: +4.2 pts, −1.0 pts."""
    if delta is None:
        return ""
    text = f"{abs(delta) * 100:.1f} pts"
    if text == "0.0 pts":
        return "±0.0 pts"
    return ("+" if delta > 0 else MINUS) + text


def signed(value: float, digits: int = 2) -> str:
    text = f"{abs(value):.{digits}f}"
    return ("+" if value >= 0 else MINUS) + text


def label(value: str | None) -> str:
    """A stored category for reading: mid_market → Mid market, smb → SMB, '' → —."""
    if not value:
        return "—"
    words = value.replace("_", " ").strip()
    return words.upper() if len(words) <= 3 else words[:1].upper() + words[1:]


def owner_label(value: str | None) -> str:
    return value if value else "Unassigned"


def day(value: dt.date) -> str:
    """1 Mar 2026: unambiguous in every locale."""
    return f"{value.day} {value:%b %Y}"


def days_until(day: dt.date | None, since: dt.date) -> int | None:
    return None if day is None else (day - since).days


# -- what changed since the previous run ------------------------------------------------------

def change_text(account: RankedAccount, reasons: Sequence[Reason]) -> str | None:
    """What moved the risk since the previous run, in words: the signal whose push changed
    most, and its reason when it is one of this run's ("Mostly the champion behind the
    account's usage, pushing the risk up: The user behind 40% … 26 days ago")."""
    if account.moved_most is None or account.moved_most_change is None:
        return None
    signal = account.moved_most
    about = SIGNALS[signal][0] if signal in SIGNALS else signal.replace("_", " ")
    way = "up" if account.moved_most_change > 0 else "down"
    said = next((r.text for r in reasons if r.signal == signal), None)
    head = f"Mostly {about}, pushing the risk {way}"
    return f"{head}: {said}" if said else head


# -- reasons by family ------------------------------------------------------------------------

@dataclass(frozen=True)
class ReasonView:
    feature: str
    text: str
    contribution: float
    bar: float  # 0-100: the share of the strongest reason's push
    context: bool = False  # a contract or account fact, not something to act on


@dataclass(frozen=True)
class FamilyView:
    family: str
    total: float  # the family's net contribution over every feature (log-odds)
    bar_x: float  # the family's bar in a 0-200 box centred on 100 (raises right, lowers left)
    bar_width: float
    reasons: list[ReasonView]
    rank: int = 0  # position of the family's first reason among the account's reasons

    @property
    def raises(self) -> bool:
        return self.total > 0

    @property
    def strongest(self) -> float:
        """The family's strongest top reason's push (0 without a top reason)."""
        return max((r.contribution for r in self.reasons), default=0.0)


def family_views(reasons: Sequence[Reason], families: Mapping[str, float]
                 ) -> list[FamilyView]:
    """Every family, the one raising the risk most first, each with its top reasons in
    the order the model gives them (what a CSM can act on first, then context; an empty
    list when none of the top reasons is of that family). `rank` is the position of the
    family's first reason, so the reasons panel can follow the reasons' order."""
    strongest = max((r.contribution for r in reasons), default=0.0)
    by_family: dict[str, list[ReasonView]] = {}
    rank: dict[str, int] = {}
    for i, r in enumerate(reasons):
        bar = 100 * r.contribution / strongest if strongest > 0 else 0.0
        rank.setdefault(r.family, i)
        by_family.setdefault(r.family, []).append(
            ReasonView(r.feature, r.text, r.contribution, max(bar, 2.0), r.context))
    totals = {f: float(v) for f, v in families.items()}
    for family, views in by_family.items():
        totals.setdefault(family, sum(v.contribution for v in views))
    scale = max((abs(v) for v in totals.values()), default=0.0) or 1.0
    order = sorted(totals, key=lambda f: (-totals[f], f))
    out = []
    for family in order:
        width = 100 * abs(totals[family]) / scale
        out.append(FamilyView(family, totals[family],
                              100.0 if totals[family] >= 0 else 100.0 - width, width,
                              by_family.get(family, []), rank.get(family, len(reasons))))
    return out


# -- the CSV export ---------------------------------------------------------------------------

def export_row(item: RankedAccount) -> list[Any]:
    """One account's CSV cells, in EXPORT_COLUMNS order: numbers in full precision, dates
    ISO, blanks for none, and text that a spreadsheet would run as a formula quoted."""
    row = []
    for column in EXPORT_COLUMNS:
        value = getattr(item, column)
        if value is None:
            row.append("")
        elif isinstance(value, str):
            row.append(spreadsheet_safe(value))
        elif isinstance(value, dt.date):
            row.append(value.isoformat())
        else:
            row.append(value)
    return row


def spreadsheet_safe(text: str) -> str:
    """Text a spreadsheet would read as a formula (=, +, -, @ first) gets a leading '."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def export_rows(items: Iterable[RankedAccount]) -> Iterable[list[Any]]:
    yield list(EXPORT_COLUMNS)
    for item in items:
        yield export_row(item)


# -- this quarter's renewals -------------------------------------------------------------------

QUARTER_STATUS_LABELS = {"renewed": "Renewed", "no_risk": "No risk", "at_risk": "At risk",
                         "churned": "Churned"}


def quarter_label(start: dt.date) -> str:
    """Q4 2025."""
    return f"Q{(start.month - 1) // 3 + 1} {start.year}"


def survey_scale(kind: str) -> str:
    """The scale a survey score is read on: NPS 0-10, CSAT 1-5, CES 1-7."""
    return {"nps": "of 10", "csat": "of 5", "ces": "of 7"}.get(kind, "")
