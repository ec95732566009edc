"""Header figures of the CSM page, on SQLite and PostgreSQL, against sums done by hand."""

from __future__ import annotations

import datetime as dt

import pytest

import serving.store.summary as summary_module
from serving.risk import Bands, RiskScore
from serving.store.score_store import AccountInfo, RenewalDue, StoredScore
from serving.store.summary import BookFigures, BookSummary, QuarterRenewals, choices, summarise

AS_OF = dt.date(2025, 3, 1)


def scored(account_id: str, probability: float, arr: float, owner: str, segment: str,
           renewal: dt.date | None, as_of: dt.date = AS_OF) -> StoredScore:
    score = RiskScore(account_id, as_of, probability, Bands().band(probability), "churnlens",
                      "7", (), {"usage": 0.1})
    return StoredScore(score, AccountInfo(account_id, account_id, segment, owner, arr,
                                          renewal))


DAY = dt.timedelta(days=1)
BOOK = [
    scored("a1", 0.62, 5_000, "ana", "smb", AS_OF),                 # renews on as_of: in
    scored("a2", 0.45, 80_000, "ben", "enterprise", AS_OF + 90 * DAY),  # last day in
    scored("a3", 0.31, 40_000, "ana", "mid_market", AS_OF + 91 * DAY),  # a day late
    scored("a4", 0.20, 150_000, "ana", "enterprise", AS_OF - DAY),      # already past
    scored("a5", 0.10, 20_000, "ben", "smb", AS_OF + 30 * DAY),
    scored("a6", 0.05, 1_000, "", "smb", None),                         # no owner, no date
]


def due(account_id: str, outcome: str, arr: float, owner: str, segment: str) -> RenewalDue:
    return RenewalDue(AccountInfo(account_id, account_id, segment, owner, arr,
                                  dt.date(2025, 2, 10)), f"{account_id}-S1", outcome)


# This quarter's renewals (Q1 2025 for a run as of 1 March 2025).
RENEWALS = [
    due("a1", "open", 5_000, "ana", "smb"),            # scored high: at risk
    due("a4", "open", 150_000, "ana", "enterprise"),   # scored medium: at risk
    due("a5", "open", 20_000, "ben", "smb"),           # scored low: no risk
    due("late", "open", 3_000, "ben", "smb"),          # not scored (overdue): at risk
    due("gone", "churned", 700, "ana", "smb"),
    due("kept", "renewed", 9_000, "ben", "enterprise"),
]
STATUS_BY_HAND = {"a1": "at_risk", "a4": "at_risk", "a5": "no_risk", "late": "at_risk",
                  "gone": "churned", "kept": "renewed"}


def by_hand(book: list[StoredScore], owner: str | None = None,
            segment: str | None = None) -> BookSummary:
    def mine(account: AccountInfo) -> bool:
        return ((owner is None or account.csm_owner == owner)
                and (segment is None or account.segment == segment))

    rows = [s for s in book if mine(s.account)]
    counts = dict.fromkeys(("renewed", "no_risk", "at_risk", "churned"), 0)
    arr = dict.fromkeys(counts, 0.0)
    for renewal in RENEWALS:
        if mine(renewal.account):
            counts[STATUS_BY_HAND[renewal.account.account_id]] += 1
            arr[STATUS_BY_HAND[renewal.account.account_id]] += renewal.account.arr
    quarter = QuarterRenewals(dt.date(2025, 1, 1), dt.date(2025, 3, 31), counts, arr)
    high = [s for s in rows if s.score.band == "high"]
    renewing = [s for s in rows if s.account.renewal_date is not None
                and AS_OF <= s.account.renewal_date <= AS_OF + 90 * DAY]
    return BookSummary(len(rows), sum(s.account.arr for s in rows), len(high),
                       sum(s.account.arr for s in high),
                       sum(s.score.probability * s.account.arr for s in rows),
                       len(renewing), sum(s.account.arr for s in renewing), quarter)


def assert_same(found: BookSummary, expected: BookSummary) -> None:
    assert (found.accounts, found.high_risk, found.renewals) == \
        (expected.accounts, expected.high_risk, expected.renewals)
    for name in ("arr", "high_risk_arr", "arr_at_risk", "renewals_arr"):
        assert getattr(found, name) == pytest.approx(getattr(expected, name)), name
    assert found.quarter == expected.quarter


@pytest.mark.parametrize(("owner", "segment"), [
    (None, None), ("ana", None), (None, "smb"), ("ben", "smb"), ("", None), ("nobody", None),
])
def test_figures_match_sums_by_hand(store, owner, segment):
    run_id = store.write_run("7", AS_OF, BOOK, renewals=RENEWALS)
    found = summarise(store, run_id, AS_OF, csm_owner=owner, segment=segment)
    assert_same(found, by_hand(BOOK, owner, segment))


def test_figures_and_choices_are_of_one_run_only(store):
    store.write_run("7", AS_OF, BOOK)
    later = AS_OF + 31 * DAY
    newer = [scored("b1", 0.9, 7_000, "cy", "startup", later + DAY, later)]
    run_id = store.write_run("7", later, newer)
    found = summarise(store, run_id, later)
    assert (found.accounts, found.high_risk, found.renewals) == (1, 1, 1)
    assert found.arr_at_risk == pytest.approx(6_300)
    assert choices(store, run_id).owners == ["cy"]
    first = store.runs()[-1].id
    assert choices(store, first).owners == ["", "ana", "ben"]
    assert choices(store, first).segments == ["enterprise", "mid_market", "smb"]


def test_an_unknown_run_has_empty_figures(store):
    found = summarise(store, 999, AS_OF)
    nothing = QuarterRenewals(dt.date(2025, 1, 1), dt.date(2025, 3, 31),
                              dict.fromkeys(("renewed", "no_risk", "at_risk", "churned"), 0),
                              dict.fromkeys(("renewed", "no_risk", "at_risk", "churned"), 0.0))
    assert found == BookSummary(0, 0.0, 0, 0.0, 0.0, 0, 0.0, nothing)
    assert choices(store, 999).owners == []


def test_book_figures_ask_the_store_once_per_run_and_book(store, monkeypatch):
    store.write_run("7", AS_OF, BOOK, renewals=RENEWALS)
    run = store.latest_run()
    calls: list[tuple] = []
    real = summary_module.summarise

    def counting(*args, **kwargs):
        calls.append((args[1:], tuple(sorted(kwargs.items()))))
        return real(*args, **kwargs)

    monkeypatch.setattr(summary_module, "summarise", counting)
    figures = BookFigures(store, remember=2)
    for _ in range(3):
        assert_same(figures.summary(run), by_hand(BOOK))
        assert_same(figures.summary(run, csm_owner="ana"), by_hand(BOOK, "ana"))
    assert len(calls) == 2
    figures.summary(run, segment="smb")  # a third book pushes out the oldest
    figures.summary(run)
    assert len(calls) == 4
    assert figures.choices(run).owners == ["", "ana", "ben"]
