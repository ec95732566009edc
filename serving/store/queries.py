"""The score store's read queries, built once and reused.

The ranked list is the hot path (the first page of a 10,000-account run well within
20 ms): its statements are built once per (sort, set of filters) with bound parameters,
so a request costs four indexed queries and no SQL construction, and "what changed" is
read only for the accounts on the page.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

import sqlalchemy as sa

from serving.store.models import (
    HistoryPoint,
    ListQuery,
    RankedAccount,
    RunNotFoundError,
    RunSummary,
)
from serving.store.rows import moved_most
from serving.store.schema import account_scores, score_evidence, score_reasons, scoring_runs

_S = account_scores.c
_R = scoring_runs.c
NEWEST = (_R.as_of.desc(), _R.id.desc())
# One ranked row, in this order: ranked_account() unpacks it.
_ROW = (_S.account_id, _S.name, _S.segment, _S.csm_owner, _S.arr, _S.renewal_date,
        _S.probability, _S.band, _S.arr_at_risk, _S.top_reason, _S.drivers)

_RUNS = sa.select(scoring_runs).order_by(*NEWEST).limit(sa.bindparam("limit"))
_RUN = sa.select(scoring_runs).where(_R.id == sa.bindparam("run_id"))
_PREVIOUS_RUN = (
    sa.select(scoring_runs)
    .where(sa.or_(_R.as_of < sa.bindparam("as_of"),
                  sa.and_(_R.as_of == sa.bindparam("as_of"), _R.id < sa.bindparam("run_id"))))
    .order_by(*NEWEST).limit(1)
)
_BEFORE = sa.select(_S.account_id, _S.probability, _S.drivers).where(
    _S.run_id == sa.bindparam("run_id"),
    _S.account_id.in_(sa.bindparam("account_ids", expanding=True)))
_HISTORY = (
    sa.select(_S.run_id, _R.as_of, _R.created_at, _S.probability, _S.band, _R.model_version)
    .join(scoring_runs, _R.id == _S.run_id)
    .where(_S.account_id == sa.bindparam("account_id"))
    .order_by(*NEWEST).limit(sa.bindparam("limit"))
)
_ACCOUNT_ROW = sa.select(*_ROW).where(_S.run_id == sa.bindparam("run_id"),
                                      _S.account_id == sa.bindparam("account_id"))
_ACCOUNT_REASONS = sa.select(score_reasons.c.reasons, score_reasons.c.families).where(
    score_reasons.c.run_id == sa.bindparam("run_id"),
    score_reasons.c.account_id == sa.bindparam("account_id"))
_ACCOUNT_EVIDENCE = sa.select(score_evidence.c.evidence).where(
    score_evidence.c.run_id == sa.bindparam("run_id"),
    score_evidence.c.account_id == sa.bindparam("account_id"))


def summary(row: sa.Row[Any]) -> RunSummary:
    return RunSummary(row.id, row.model_version, row.as_of, row.created_at, row.rows)


def newest_runs(conn: sa.Connection, limit: int) -> list[RunSummary]:
    return [summary(row) for row in conn.execute(_RUNS, {"limit": limit})]


def run_and_previous(conn: sa.Connection, run_id: int | None
                     ) -> tuple[RunSummary | None, RunSummary | None]:
    """The run a list is on (the newest unless `run_id`) and the run before it."""
    if run_id is None:
        newest = newest_runs(conn, 2)
        if not newest:
            return None, None
        return newest[0], newest[1] if len(newest) > 1 else None
    row = conn.execute(_RUN, {"run_id": run_id}).first()
    if row is None:
        raise RunNotFoundError(f"There is no scoring run {run_id}. Leave run_id out for the "
                               f"latest run, or pick one the store lists in its runs.")
    run = summary(row)
    return run, previous_run(conn, run.id, run.as_of)


def previous_run(conn: sa.Connection, run_id: int, as_of: dt.date) -> RunSummary | None:
    """The run just before `run_id` in newest-first order (earlier as_of, or same as_of
    written earlier)."""
    found = conn.execute(_PREVIOUS_RUN, {"as_of": as_of, "run_id": run_id}).first()
    return None if found is None else summary(found)


def filtered_by(query: ListQuery) -> tuple[bool, bool, bool, bool, bool]:
    return (query.csm_owner is not None, query.segment is not None, query.band is not None,
            query.renewal_within_days is not None, query.scope is not None)


@functools.lru_cache(maxsize=64)
def list_statements(sort: str, owner: bool, segment: bool, band: bool, renewal: bool,
                    scoped: bool = False) -> tuple[sa.Select[tuple[int]], sa.Select[Any]]:
    """(count, page) statements for one sort order and set of filters."""
    where = [_S.run_id == sa.bindparam("run_id")]
    if scoped:
        where.append(_S.csm_owner.in_(sa.bindparam("scope", expanding=True)))
    if owner:
        where.append(_S.csm_owner == sa.bindparam("csm_owner"))
    if segment:
        where.append(_S.segment == sa.bindparam("segment"))
    if band:
        where.append(_S.band == sa.bindparam("band"))
    if renewal:
        where.append(_S.renewal_date.between(sa.bindparam("renewal_from", type_=sa.Date),
                                             sa.bindparam("renewal_to", type_=sa.Date)))
    count = sa.select(sa.func.count()).select_from(account_scores).where(*where)
    rank = _S.probability if sort == "risk" else _S.arr_at_risk
    # The page's keys come from the index alone; only their rows are read in full.
    keys = (sa.select(_S.run_id, _S.account_id).where(*where)
            .order_by(rank.desc(), _S.account_id)
            .limit(sa.bindparam("limit")).offset(sa.bindparam("offset"))
            .subquery("page"))
    page = (sa.select(*_ROW)
            .join_from(account_scores, keys, sa.and_(_S.run_id == keys.c.run_id,
                                                     _S.account_id == keys.c.account_id))
            .order_by(rank.desc(), _S.account_id))
    return count, page


def list_params(query: ListQuery, run: RunSummary) -> dict[str, Any]:
    params: dict[str, Any] = {"run_id": run.id, "limit": query.per_page,
                              "offset": query.offset}
    if query.csm_owner is not None:
        params["csm_owner"] = query.csm_owner
    if query.scope is not None:
        params["scope"] = sorted(query.scope)
    if query.segment is not None:
        params["segment"] = query.segment
    if query.band is not None:
        params["band"] = query.band
    if query.renewal_within_days is not None:
        params["renewal_from"] = run.as_of
        params["renewal_to"] = run.as_of + dt.timedelta(days=query.renewal_within_days)
    return params


def rows_in(conn: sa.Connection, run: RunSummary | None, account_ids: list[str]
            ) -> dict[str, tuple[float, dict[str, float]]]:
    """(probability, drivers) of the given accounts in one run (the previous one); none
    when there is no such run or it has been pruned."""
    if run is None or not account_ids:
        return {}
    found = conn.execute(_BEFORE, {"run_id": run.id, "account_ids": account_ids})
    return {account_id: (probability, drivers) for account_id, probability, drivers in found}


def ranked_account(row: sa.Row[Any], before: tuple[float, dict[str, float]] | None
                   ) -> RankedAccount:
    (account_id, name, segment, csm_owner, arr, renewal_date, probability, band,
     arr_at_risk, top_reason, drivers) = row
    delta: float | None = None
    feature: str | None = None
    change: float | None = None
    if before is not None:
        delta = probability - before[0]
        feature, change = moved_most(drivers, before[1])
    return RankedAccount(account_id, name, segment, csm_owner, arr, renewal_date, probability,
                         band, arr_at_risk, top_reason, delta, feature, change)


def history_of(conn: sa.Connection, account_id: str, limit: int) -> list[HistoryPoint]:
    return [HistoryPoint(*row)
            for row in conn.execute(_HISTORY, {"account_id": account_id, "limit": limit})]


def account_row(conn: sa.Connection, run_id: int, account_id: str
                ) -> tuple[sa.Row[Any], sa.Row[Any], dict[str, Any] | None] | None:
    """An account's ranked row, its reasons row and its evidence (None if the run stored
    none) in one run; None when the run has just been pruned."""
    params = {"run_id": run_id, "account_id": account_id}
    row = conn.execute(_ACCOUNT_ROW, params).first()
    detail = conn.execute(_ACCOUNT_REASONS, params).first()
    if row is None or detail is None:
        return None
    return row, detail, conn.execute(_ACCOUNT_EVIDENCE, params).scalar()
