"""What goes into the score store and what comes out: plain frozen dataclasses and errors.

`ListQuery` checks itself when built, so a bad filter from the API or the CLI fails with
a message that says what to fix (`InvalidQueryError`, HTTP 422) before any SQL runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from features.errors import ChurnlensError
from features.point_in_time.evidence import AccountEvidence
from serving.risk import Reason, RiskScore

SORTS = ("risk", "arr_at_risk")
BANDS = ("high", "medium", "low")
MAX_PER_PAGE = 200
MAX_PAGE = 1_000_000
MAX_RENEWAL_DAYS = 3_660  # ten years: past that, "renewal within N days" means "any"
MAX_HISTORY = 1_000

Sort = Literal["risk", "arr_at_risk"]
Band = Literal["high", "medium", "low"]


class InvalidQueryError(ChurnlensError):
    """A list or lookup query asks for something the store cannot answer as written."""

    http_status = 422

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("Invalid score query: " + "; ".join(problems) + ".")


class InvalidRunError(ChurnlensError):
    """A scoring run cannot be stored as given; nothing was written."""

    http_status = 422


class RunNotFoundError(ChurnlensError):
    """A query names a scoring run the store does not hold."""

    http_status = 404


class ScoreStoreError(ChurnlensError):
    """The score store's database cannot be opened, read or written."""

    http_status = 503
    exit_code = 2


@dataclass(frozen=True)
class AccountInfo:
    """What a CSM filters and sorts by, as known at scoring time."""

    account_id: str
    name: str
    segment: str
    csm_owner: str
    arr: float
    renewal_date: dt.date | None


@dataclass(frozen=True)
class StoredScore:
    """One account's score with the account facts stored next to it."""

    score: RiskScore
    account: AccountInfo
    evidence: AccountEvidence | None = None  # the records behind the reasons, if read


RENEWAL_OUTCOMES = ("renewed", "churned", "open")


@dataclass(frozen=True)
class RenewalDue:
    """An account's renewal due in a run's quarter, and its outcome as known at as_of."""

    account: AccountInfo  # arr and renewal_date are the due term's
    subscription_id: str
    outcome: str  # one of RENEWAL_OUTCOMES


@dataclass(frozen=True)
class RunSummary:
    id: int
    model_version: str
    as_of: dt.date
    created_at: dt.datetime  # timezone-aware, UTC
    rows: int


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class ListQuery:
    """One page of the ranked account list, on the latest run unless `run_id` is given.

    `renewal_within_days` keeps accounts whose renewal date falls in
    [as_of, as_of + N days] of the run being listed (not of today).
    """

    sort: Sort = "risk"
    csm_owner: str | None = None
    segment: str | None = None
    band: Band | None = None
    renewal_within_days: int | None = None
    page: int = 1
    per_page: int = 50
    run_id: int | None = None
    # The owners a book key may see (None: every account); applied on top of csm_owner.
    scope: frozenset[str] | None = None

    def __post_init__(self) -> None:
        problems: list[str] = []
        if self.sort not in SORTS:
            problems.append(f"sort must be 'risk' or 'arr_at_risk' (got {self.sort!r})")
        if self.band is not None and self.band not in BANDS:
            problems.append(f"band must be one of high, medium, low (got {self.band!r})")
        for name in ("csm_owner", "segment"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                problems.append(f"{name} must be text (got {value!r})")
        days = self.renewal_within_days
        if days is not None and (not _is_int(days) or not 0 <= days <= MAX_RENEWAL_DAYS):
            problems.append(f"renewal_within_days must be a whole number of days from 0 to "
                            f"{MAX_RENEWAL_DAYS} (got {days!r})")
        if not _is_int(self.page) or not 1 <= self.page <= MAX_PAGE:
            problems.append(f"page must be a whole number from 1 to {MAX_PAGE} "
                            f"(got {self.page!r}); pages start at 1")
        if not _is_int(self.per_page) or not 1 <= self.per_page <= MAX_PER_PAGE:
            problems.append(f"per_page must be a whole number from 1 to {MAX_PER_PAGE} "
                            f"(got {self.per_page!r})")
        if self.run_id is not None and (not _is_int(self.run_id) or self.run_id < 1):
            problems.append(f"run_id must be a positive whole number (got {self.run_id!r}); "
                            f"leave it out for the latest run")
        if problems:
            raise InvalidQueryError(problems)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


@dataclass(frozen=True)
class RankedAccount:
    """One row of the ranked list, with what changed since the previous run.

    `delta` is this run's probability minus the previous run's for the same account and
    `moved_most` the signal (`point_in_time.signals`) whose push (log-odds, summed over
    its features) changed most between the two, `moved_most_change` that change; all
    three are None when the account was not in the previous run (or there is none).
    Pushes are compared over every stored contribution; a signal absent from a run
    counts as 0 there.
    """

    account_id: str
    name: str
    segment: str
    csm_owner: str
    arr: float
    renewal_date: dt.date | None
    probability: float
    band: str
    arr_at_risk: float
    top_reason: str | None
    delta: float | None
    moved_most: str | None
    moved_most_change: float | None


@dataclass(frozen=True)
class Page:
    items: list[RankedAccount]
    total: int
    page: int
    per_page: int
    run: RunSummary | None

    @property
    def pages(self) -> int:
        return -(-self.total // self.per_page)


@dataclass(frozen=True)
class HistoryPoint:
    run_id: int
    as_of: dt.date
    created_at: dt.datetime
    probability: float
    band: str
    model_version: str


@dataclass(frozen=True)
class AccountDetail:
    """An account's latest stored score with its reasons, and its score history.

    `latest` is the account's row in the newest run that holds it (`run_id`), with the
    change since the run before that one; `history` starts with that same run.
    """

    latest: RankedAccount
    reasons: tuple[Reason, ...]
    families: Mapping[str, float]
    run_id: int
    model_version: str
    as_of: dt.date
    history: list[HistoryPoint]
    evidence: AccountEvidence | None = None


@dataclass(frozen=True)
class PruneResult:
    """What `ScoreStore.prune` deleted (on a dry run: would delete) and the runs it kept.

    Runs are newest first. `score_rows` counts the pruned runs' account scores (their
    reasons, evidence and quarter renewals went with them). `bytes_before` and
    `bytes_after` are the SQLite file's size with its write-ahead log, None when the store
    is not a SQLite file; deleting alone does not shrink the file, VACUUM does.
    """

    pruned: tuple[RunSummary, ...]
    kept: tuple[RunSummary, ...]
    score_rows: int
    dry_run: bool
    vacuumed: bool
    bytes_before: int | None
    bytes_after: int | None

    @property
    def kept_ids(self) -> list[int]:
        return [run.id for run in self.kept]
