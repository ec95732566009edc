"""The score store on SQLite and on a real PostgreSQL: runs in, ranked pages and history out."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

import serving.store.spool as spool_module
from features.point_in_time.evidence import AccountEvidence, OpenTicket, SurveyAnswer, UsageWeek
from features.sources.database import engine_url
from serving.risk import Bands, Reason, RiskScore
from serving.store.score_store import (
    AccountInfo,
    InvalidQueryError,
    InvalidRunError,
    ListQuery,
    RenewalDue,
    RunNotFoundError,
    ScoreStore,
    ScoreStoreError,
    StoredScore,
)

AS_OF = dt.date(2025, 3, 1)
VERSION = "7"


def reason(feature: str, contribution: float, family: str = "usage", value: Any = 1.0,
           text: str | None = None) -> Reason:
    return Reason(feature, family, value, contribution, text or f"{feature} pushed risk up")


def scored(account_id: str, probability: float, *, as_of: dt.date = AS_OF,
           version: str = VERSION, arr: float = 10_000.0, segment: str = "smb",
           owner: str = "ana", renewal: dt.date | None = None,
           reasons: Iterable[Reason] = (), families: dict[str, float] | None = None
           ) -> StoredScore:
    score = RiskScore(account_id=account_id, as_of=as_of, probability=probability,
                      band=Bands().band(probability), model_name="churnlens",
                      model_version=version, reasons=tuple(reasons),
                      families=families if families is not None else {"usage": 0.1})
    info = AccountInfo(account_id=account_id, name=f"{account_id} Inc", segment=segment,
                       csm_owner=owner, arr=arr,
                       renewal_date=renewal if renewal is not None else as_of
                       + dt.timedelta(days=200))
    return StoredScore(score, info)


EMPTY = {"scoring_runs": 0, "scores": 0, "score_reasons": 0, "score_evidence": 0,
         "quarter_renewals": 0}
ONE_RUN = {"scoring_runs": 1, "scores": 6, "score_reasons": 6, "score_evidence": 0,
           "quarter_renewals": 0}


def evidence_of(account_id: str, as_of: dt.date = AS_OF) -> AccountEvidence:
    week = as_of - dt.timedelta(weeks=1)
    return AccountEvidence(
        account_id=account_id, as_of=as_of,
        last_nps=SurveyAnswer("nps", as_of - dt.timedelta(days=20), 3.0, "too slow"),
        last_comment=SurveyAnswer("nps", as_of - dt.timedelta(days=20), 3.0, "too slow"),
        open_tickets=(OpenTicket("T9", as_of - dt.timedelta(days=4), 4, "urgent", "bug",
                                 True),),
        open_ticket_count=1, usage=(UsageWeek(week, 12, 30.0, 400.5),))


def due(account_id: str, outcome: str, arr: float, *, owner: str = "ana",
        segment: str = "smb") -> RenewalDue:
    return RenewalDue(AccountInfo(account_id, f"{account_id} Inc", segment, owner, arr,
                                  AS_OF - dt.timedelta(days=10)), f"{account_id}-S1", outcome)


def ids(page: Any) -> list[str]:
    return [item.account_id for item in page.items]


def table_rows(url: str) -> dict[str, int]:
    engine = sa.create_engine(engine_url(url))
    try:
        with engine.connect() as conn:
            return {name: conn.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar_one()
                    for name in ("scoring_runs", "scores", "score_reasons", "score_evidence",
                                 "quarter_renewals")}
    finally:
        engine.dispose()


# A book of six accounts where ranking by risk and by ARR at risk disagree.
BOOK = [
    scored("a1", 0.62, arr=5_000, segment="smb", owner="ana", renewal=AS_OF),
    scored("a2", 0.45, arr=80_000, segment="enterprise", owner="ben",
           renewal=AS_OF + dt.timedelta(days=30)),
    scored("a3", 0.31, arr=40_000, segment="mid-market", owner="ana",
           renewal=AS_OF + dt.timedelta(days=31)),
    scored("a4", 0.20, arr=150_000, segment="enterprise", owner="ana",
           renewal=AS_OF - dt.timedelta(days=1)),
    scored("a5", 0.10, arr=20_000, segment="smb", owner="ben",
           renewal=AS_OF + dt.timedelta(days=90)),
    scored("a6", 0.05, arr=1_000, segment="smb", owner="cy", renewal=None),
]


def test_a_run_round_trips_with_its_reasons_and_families(store, store_url, tmp_path):
    reasons = [
        reason("active_users_change_28d", 0.9, value=np.float64(-0.42),
               text="Active users fell 42% in the last 28 days (31 → 18)"),
        reason("open_tickets", 0.4, family="support", value=np.int64(7)),
        reason("last_nps", 0.2, family="sentiment", value=float("nan")),
        reason("plan", 0.1, family="contract", value="pro"),
        reason("renewal_month", 0.05, family="contract", value=dt.date(2025, 6, 1)),
    ]
    families = {"usage": 0.9, "support": 0.4, "sentiment": 0.2, "contract": 0.15}
    created = dt.datetime(2025, 3, 1, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    run_id = store.write_run(VERSION, AS_OF, [
        scored("acme", 0.37, reasons=reasons, families=families, arr=120_000.0,
               segment="enterprise", owner="dana", renewal=dt.date(2025, 5, 31)),
        scored("zeta", 0.02),
    ], created_at=created)

    run = store.latest_run()
    assert run is not None
    assert (run.id, run.model_version, run.as_of, run.rows) == (run_id, VERSION, AS_OF, 2)
    assert run.created_at == created and run.created_at.utcoffset() == dt.timedelta(0)
    assert store.runs() == [run]

    detail = store.account("acme")
    assert detail is not None
    assert (detail.run_id, detail.model_version, detail.as_of) == (run_id, VERSION, AS_OF)
    assert detail.reasons == (
        Reason("active_users_change_28d", "usage", -0.42, 0.9,
               "Active users fell 42% in the last 28 days (31 → 18)"),
        Reason("open_tickets", "support", 7, 0.4, "open_tickets pushed risk up"),
        Reason("last_nps", "sentiment", None, 0.2, "last_nps pushed risk up"),
        Reason("plan", "contract", "pro", 0.1, "plan pushed risk up"),
        Reason("renewal_month", "contract", "2025-06-01", 0.05, "renewal_month pushed risk up"),
    )
    assert detail.families == families
    latest = detail.latest
    assert (latest.account_id, latest.name, latest.segment, latest.csm_owner) == (
        "acme", "acme Inc", "enterprise", "dana")
    assert (latest.arr, latest.renewal_date, latest.probability, latest.band) == (
        120_000.0, dt.date(2025, 5, 31), 0.37, "high")
    assert latest.arr_at_risk == pytest.approx(0.37 * 120_000)
    assert latest.top_reason == "Active users fell 42% in the last 28 days (31 → 18)"
    assert (latest.delta, latest.moved_most, latest.moved_most_change) == (None, None, None)
    assert [(h.run_id, h.probability, h.band) for h in detail.history] == [(run_id, 0.37, "high")]

    quiet = store.account("zeta")
    assert quiet is not None and quiet.reasons == () and quiet.latest.top_reason is None
    if store_url.startswith("sqlite"):
        assert (tmp_path / "store" / "scores.db").is_file()  # its directory was created


def test_an_empty_store_has_no_run_no_page_and_no_account(store):
    assert store.latest_run() is None
    assert store.runs() == []
    page = store.ranked(ListQuery())
    assert (page.items, page.total, page.run) == ([], 0, None)
    assert store.account("acme") is None


def test_ranks_by_risk_and_by_arr_at_risk(store):
    run_id = store.write_run(VERSION, AS_OF, BOOK)
    by_risk = store.ranked(ListQuery())
    assert ids(by_risk) == ["a1", "a2", "a3", "a4", "a5", "a6"]
    assert by_risk.total == 6 and by_risk.run is not None and by_risk.run.id == run_id
    by_money = store.ranked(ListQuery(sort="arr_at_risk"))
    assert ids(by_money) == ["a2", "a4", "a3", "a1", "a5", "a6"]  # 36k, 30k, 12.4k, 3.1k...
    assert [i.arr_at_risk for i in by_money.items] == pytest.approx(
        [36_000, 30_000, 12_400, 3_100, 2_000, 50])
    assert [i.band for i in by_risk.items] == ["high", "high", "high", "medium", "low", "low"]


FILTER_CASES = [
    ({"csm_owner": "ana"}, ["a1", "a3", "a4"]),
    ({"segment": "enterprise"}, ["a2", "a4"]),
    ({"band": "high"}, ["a1", "a2", "a3"]),
    ({"band": "medium"}, ["a4"]),
    ({"band": "low"}, ["a5", "a6"]),
    ({"renewal_within_days": 30}, ["a1", "a2"]),
    ({"csm_owner": "ana", "band": "high"}, ["a1", "a3"]),
    ({"segment": "smb", "csm_owner": "ben", "renewal_within_days": 90}, ["a5"]),
    ({"segment": "enterprise", "band": "high", "renewal_within_days": 30,
      "csm_owner": "ben"}, ["a2"]),
    ({"csm_owner": "nobody"}, []),
]


@pytest.mark.parametrize(("filters", "expected"), [
    pytest.param(f, e, id=",".join(f"{k}={v}" for k, v in f.items())) for f, e in FILTER_CASES])
def test_filters_alone_and_combined(store, filters, expected):
    store.write_run(VERSION, AS_OF, BOOK)
    page = store.ranked(ListQuery(**filters))
    assert ids(page) == expected
    assert page.total == len(expected)
    by_money = store.ranked(ListQuery(sort="arr_at_risk", **filters))
    assert sorted(ids(by_money)) == sorted(expected)


def test_renewal_within_days_counts_from_the_runs_as_of(store):
    store.write_run(VERSION, AS_OF, BOOK)
    assert ids(store.ranked(ListQuery(renewal_within_days=0))) == ["a1"]  # renews on as_of
    assert ids(store.ranked(ListQuery(renewal_within_days=31))) == ["a1", "a2", "a3"]
    # A later run moves the window: a3 (renewing 2025-04-01) is now 0 days away.
    later = AS_OF + dt.timedelta(days=31)
    store.write_run(VERSION, later, [scored("a3", 0.3, as_of=later, renewal=dt.date(2025, 4, 1)),
                                     scored("a2", 0.4, as_of=later, renewal=dt.date(2025, 3, 31))])
    assert ids(store.ranked(ListQuery(renewal_within_days=0))) == ["a3"]


def test_pages_split_the_ranking_and_keep_the_total(store):
    # Ties on probability are ranked by account id, so pages never overlap or skip.
    book = [scored(f"acc-{i:02d}", 0.5 if i % 3 == 0 else i / 100) for i in range(23)]
    store.write_run(VERSION, AS_OF, book)
    everything = ids(store.ranked(ListQuery(per_page=200)))
    expected = [s.score.account_id for s in sorted(
        book, key=lambda s: (-s.score.probability, s.score.account_id))]
    assert everything == expected
    pages = [store.ranked(ListQuery(page=n, per_page=10)) for n in (1, 2, 3, 4)]
    assert [len(p.items) for p in pages] == [10, 10, 3, 0]
    assert {p.total for p in pages} == {23} and pages[0].pages == 3
    assert [a for p in pages for a in ids(p)] == everything
    assert pages[3].run is not None  # past the end: empty, but still says which run


def test_delta_and_the_driver_that_moved_most_across_two_runs(store):
    january, february = dt.date(2025, 1, 1), dt.date(2025, 2, 1)
    first = store.write_run(VERSION, january, [
        scored("grow", 0.20, as_of=january, reasons=[reason("usage_drop", 0.1),
                                                     reason("tickets", 0.5)]),
        scored("swap", 0.40, as_of=january, reasons=[reason("nps", 0.7)]),
        scored("gone", 0.90, as_of=january),
    ])
    second = store.write_run(VERSION, february, [
        scored("grow", 0.55, as_of=february, reasons=[reason("usage_drop", 0.9),
                                                      reason("tickets", 0.3)]),
        scored("swap", 0.25, as_of=february, reasons=[reason("seats", 0.2)]),
        scored("new", 0.10, as_of=february, reasons=[reason("seats", 0.4)]),
    ])
    page = store.ranked(ListQuery())
    assert page.run is not None and page.run.id == second
    rows = {item.account_id: item for item in page.items}
    assert set(rows) == {"grow", "swap", "new"}
    assert rows["grow"].delta == pytest.approx(0.35)
    assert rows["grow"].moved_most == "usage_drop"
    assert rows["grow"].moved_most_change == pytest.approx(0.8)
    # A driver that left the reasons counts as 0 in the run it left.
    assert rows["swap"].delta == pytest.approx(-0.15)
    assert (rows["swap"].moved_most, rows["swap"].moved_most_change) == ("nps", -0.7)
    assert (rows["new"].delta, rows["new"].moved_most) == (None, None)
    # The first run has no run before it.
    old = store.ranked(ListQuery(run_id=first))
    assert ids(old) == ["gone", "swap", "grow"]
    assert all(item.delta is None and item.moved_most is None for item in old.items)
    detail = store.account("grow")
    assert detail is not None and detail.latest.delta == pytest.approx(0.35)
    assert detail.latest.moved_most == "usage_drop"


def test_the_newest_run_is_the_latest_as_of_then_the_last_written(store):
    march, february = AS_OF, AS_OF - dt.timedelta(days=28)
    march_run = store.write_run(VERSION, march, [scored("a", 0.5, as_of=march)])
    backfill = store.write_run(VERSION, february, [scored("a", 0.3, as_of=february)])
    assert [r.id for r in store.runs()] == [march_run, backfill]
    page = store.ranked(ListQuery())
    assert page.run is not None and page.run.id == march_run
    assert page.items[0].delta == pytest.approx(0.2)  # against the backfilled February run
    rescored = store.write_run("8", march, [scored("a", 0.6, as_of=march, version="8")])
    latest = store.latest_run()
    assert latest is not None and (latest.id, latest.model_version) == (rescored, "8")
    assert [r.id for r in store.runs(limit=2)] == [rescored, march_run]
    assert store.ranked(ListQuery()).items[0].delta == pytest.approx(0.1)


def test_account_history_is_newest_first(store):
    dates = [dt.date(2025, m, 1) for m in (1, 2, 3, 4)]
    run_ids = []
    for month, as_of in enumerate(dates):
        book = [scored("other", 0.1, as_of=as_of)]
        if month != 2:  # not scored in March (inactive that month)
            book.append(scored("acme", 0.1 * (month + 1), as_of=as_of))
        run_ids.append(store.write_run(VERSION, as_of, book))
    detail = store.account("acme")
    assert detail is not None
    assert [(h.run_id, h.as_of) for h in detail.history] == [
        (run_ids[3], dates[3]), (run_ids[1], dates[1]), (run_ids[0], dates[0])]
    assert [h.probability for h in detail.history] == pytest.approx([0.4, 0.2, 0.1])
    assert all(h.model_version == VERSION and h.created_at.tzinfo is not None
               for h in detail.history)
    # The run before the newest one (March) did not score acme: no delta.
    assert detail.latest.delta is None
    short = store.account("acme", history=2)
    assert short is not None and [h.run_id for h in short.history] == [run_ids[3], run_ids[1]]


def test_an_unknown_account_or_run(store):
    store.write_run(VERSION, AS_OF, BOOK)
    assert store.account("no-such-account") is None
    with pytest.raises(RunNotFoundError, match="no scoring run 999") as caught:
        store.ranked(ListQuery(run_id=999))
    assert caught.value.http_status == 404


@pytest.mark.parametrize(("values", "message"), [
    ({"sort": "arr"}, "sort must be 'risk' or 'arr_at_risk' (got 'arr')"),
    ({"band": "red"}, "band must be one of high, medium, low (got 'red')"),
    ({"renewal_within_days": -1}, "renewal_within_days must be a whole number of days"),
    ({"renewal_within_days": 1.5}, "renewal_within_days must be a whole number"),
    ({"page": 0}, "page must be a whole number from 1 to 1000000 (got 0); pages start at 1"),
    ({"per_page": 0}, "per_page must be a whole number from 1 to 200 (got 0)"),
    ({"per_page": 201}, "per_page must be a whole number from 1 to 200 (got 201)"),
    ({"per_page": True}, "per_page must be a whole number"),
    ({"run_id": 0}, "run_id must be a positive whole number (got 0)"),
    ({"csm_owner": 3}, "csm_owner must be text (got 3)"),
])
def test_invalid_list_queries_say_what_to_fix(values, message):
    with pytest.raises(InvalidQueryError) as caught:
        ListQuery(**values)
    assert message in str(caught.value)
    assert caught.value.http_status == 422


def test_every_problem_of_a_query_is_reported_at_once():
    with pytest.raises(InvalidQueryError) as caught:
        ListQuery(sort="name", page=-1, per_page=1000)
    assert len(caught.value.problems) == 3


def test_invalid_lookups_say_what_to_fix(store):
    with pytest.raises(InvalidQueryError, match="history must be a whole number of runs"):
        store.account("acme", history=0)
    with pytest.raises(InvalidQueryError, match="limit must be a whole number"):
        store.runs(limit=0)


def test_an_empty_run_is_refused(store, store_url):
    with pytest.raises(InvalidRunError, match="at least one account") as caught:
        store.write_run(VERSION, AS_OF, [])
    assert caught.value.http_status == 422
    assert table_rows(store_url) == EMPTY


@pytest.mark.parametrize(("book", "message"), [
    ([scored("a1", 0.2), scored("a2", 0.3), scored("a1", 0.4)],
     "account scored twice in one run (1 of 3 scores; e.g. a1)"),
    ([scored("a1", 0.2, as_of=dt.date(2025, 1, 1))],
     "score as_of differs from the run's 2025-03-01 (1 of 1 scores; e.g. a1: 2025-01-01)"),
    ([scored("a1", 0.2, version="6")], "score model_version differs from the run's '7'"),
    ([scored("a1", float("nan"))], "probability must be a number from 0 to 1"),
    ([scored("a1", 0.2, arr=-5.0)], "arr must be a finite number >= 0"),
], ids=["duplicate", "as_of", "model_version", "probability", "arr"])
def test_a_run_with_bad_rows_is_refused_naming_them(store, store_url, book, message):
    store.write_run(VERSION, AS_OF, BOOK)
    with pytest.raises(InvalidRunError, match="nothing was written") as caught:
        store.write_run(VERSION, AS_OF, book)
    assert message in str(caught.value)
    assert table_rows(store_url) == ONE_RUN


def test_a_naive_created_at_is_refused(store):
    with pytest.raises(InvalidRunError, match="timezone-aware"):
        store.write_run(VERSION, AS_OF, BOOK, created_at=dt.datetime(2025, 3, 1, 9, 0))


def test_a_failure_while_inserting_leaves_no_run_and_no_rows(store, store_url):
    kept = store.write_run(VERSION, AS_OF, BOOK)
    later = AS_OF + dt.timedelta(days=31)
    book = [scored(f"acc-{i:04d}", i / 1000, as_of=later, reasons=[reason("x", 0.1)])
            for i in range(1000)]
    engine = store._engine  # the failure is injected into this store's own connection

    def half_then_fail(cursor: Any, statement: str, parameters: Any, context: Any) -> bool:
        if "INSERT INTO scores " in statement:
            cursor.executemany(statement, parameters[: len(parameters) // 2])
            raise RuntimeError("disk full (injected)")
        return False

    sa.event.listen(engine, "do_executemany", half_then_fail)
    try:
        with pytest.raises(RuntimeError, match="injected"):
            store.write_run(VERSION, later, book)
    finally:
        sa.event.remove(engine, "do_executemany", half_then_fail)
    assert table_rows(store_url) == ONE_RUN
    latest = store.latest_run()
    assert latest is not None and latest.id == kept
    assert store.account("acc-0001") is None
    # The store is still usable afterwards.
    assert store.write_run(VERSION, later, book) != kept
    assert table_rows(store_url)["scores"] == 1006


def test_a_database_error_mid_run_rolls_back_and_says_so(store, store_url, monkeypatch):
    """The database's own key refuses a duplicate that slipped past the checks."""
    real = spool_module.score_rows

    def sneak_in_a_duplicate(*args: Any) -> Any:
        rows, details, evidence = real(*args)
        return [*rows, dict(rows[0])], details, evidence

    monkeypatch.setattr(spool_module, "score_rows", sneak_in_a_duplicate)
    with_evidence = [StoredScore(s.score, s.account, evidence_of(s.account.account_id))
                     for s in BOOK]
    with pytest.raises(ScoreStoreError, match="nothing was written") as caught:
        store.write_run(VERSION, AS_OF, with_evidence, renewals=[due("gone", "churned", 9.0)])
    assert "IntegrityError" in str(caught.value)
    assert table_rows(store_url) == EMPTY


def test_ping_says_whether_the_database_answers(store, monkeypatch):
    assert store.ping() is True
    unreachable = sa.create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none",
                                   connect_args={"connect_timeout": 2})
    monkeypatch.setattr(store, "_engine", unreachable)
    assert store.ping() is False


def test_an_unreachable_database_is_a_clear_error():
    with pytest.raises(ScoreStoreError) as caught:
        ScoreStore("postgresql://nobody:secret@127.0.0.1:1/none")
    message = str(caught.value)
    assert message.startswith("Cannot open the score store at "
                              "postgresql://nobody:***@127.0.0.1:1/none: OperationalError")
    assert "secret" not in message and "Check the URL" in message
    with pytest.raises(ScoreStoreError, match="is not a database URL"):
        ScoreStore("not a url")


def test_evidence_and_renewals_are_stored_with_the_run(store, store_url):
    book = [StoredScore(s.score, s.account, evidence_of(s.account.account_id))
            if s.account.account_id in ("a1", "a2") else s for s in BOOK]
    store.write_run(VERSION, AS_OF, book,
                    renewals=[due("a1", "open", 5_000), due("gone", "churned", 700)])
    assert table_rows(store_url) == {"scoring_runs": 1, "scores": 6, "score_reasons": 6,
                                          "score_evidence": 2, "quarter_renewals": 2}
    found = store.account("a1")
    assert found is not None and found.evidence == evidence_of("a1")
    without = store.account("a3")
    assert without is not None and without.evidence is None


@pytest.mark.parametrize(("renewals", "message"), [
    ([due("a1", "maybe", 10.0)], "renewal outcome must be one of renewed, churned, open"),
    ([due("a1", "open", 10.0), due("a1", "churned", 10.0)],
     "account has two renewals in the quarter"),
    ([due("a1", "open", float("inf"))], "renewal arr must be a finite number >= 0"),
], ids=["outcome", "twice", "arr"])
def test_bad_renewals_refuse_the_whole_run(store, store_url, renewals, message):
    with pytest.raises(InvalidRunError, match="nothing was written") as caught:
        store.write_run(VERSION, AS_OF, BOOK, renewals=renewals)
    assert message in str(caught.value)
    assert table_rows(store_url) == EMPTY


def test_evidence_of_another_account_is_refused(store, store_url):
    book = [StoredScore(BOOK[0].score, BOOK[0].account, evidence_of("a2")), *BOOK[1:]]
    with pytest.raises(InvalidRunError, match="evidence belongs to another account"):
        store.write_run(VERSION, AS_OF, book)
    assert table_rows(store_url) == EMPTY


def with_contributions(stored: StoredScore, contributions: dict[str, float]) -> StoredScore:
    return StoredScore(dataclasses.replace(stored.score, contributions=contributions),
                       stored.account)


def test_moved_most_compares_every_stored_contribution_not_only_the_reasons(store):
    january, february = dt.date(2025, 1, 1), dt.date(2025, 2, 1)
    # "tenure" never makes the top reasons (it lowers the risk) but moves most.
    store.write_run(VERSION, january, [with_contributions(
        scored("acme", 0.30, as_of=january, reasons=[reason("tickets", 0.5)]),
        {"tickets": 0.5, "tenure": -0.1})])
    store.write_run(VERSION, february, [with_contributions(
        scored("acme", 0.35, as_of=february, reasons=[reason("tickets", 0.6)]),
        {"tickets": 0.6, "tenure": -0.9})])
    (item,) = store.ranked(ListQuery()).items
    assert (item.moved_most, item.moved_most_change) == ("tenure", pytest.approx(-0.8))


def test_non_finite_contributions_refuse_the_run(store, store_url):
    bad = StoredScore(dataclasses.replace(BOOK[0].score, contributions={"x": float("nan")}),
                      BOOK[0].account)
    with pytest.raises(InvalidRunError, match="feature contributions must be finite"):
        store.write_run(VERSION, AS_OF, [bad, *BOOK[1:]])
    assert table_rows(store_url) == EMPTY


def test_what_moved_most_is_a_signal_summed_over_its_features(store):
    january, february = dt.date(2025, 1, 1), dt.date(2025, 2, 1)
    # One feature, NPS, moved most (+0.4), but logins and minutes are one fact: the
    # team's engagement fell away by 0.6 in all.
    store.write_run(VERSION, january, [with_contributions(
        scored("acme", 0.30, as_of=january, reasons=[reason("nps_latest", 0.5)]),
        {"logins_28d": 0.3, "session_minutes_28d": 0.3, "nps_latest": 0.5})])
    store.write_run(VERSION, february, [with_contributions(
        scored("acme", 0.35, as_of=february, reasons=[reason("nps_latest", 0.9)]),
        {"logins_28d": 0.0, "session_minutes_28d": 0.0, "nps_latest": 0.9})])
    (item,) = store.ranked(ListQuery()).items
    assert (item.moved_most, item.moved_most_change) == (
        "engagement_depth", pytest.approx(-0.6))
