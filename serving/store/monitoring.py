"""The score store's monitoring rows: each run's counts, its judgement and shadow scores
(and, written alongside, what the run's alert rules test).

`serving.monitoring` computes; this module only reads and writes. A run's counts and shadow
scores are written in the run's own transaction (`write_extras`, called by
`ScoreStore.write_run`); `RunMonitoring` (`ScoreStore.monitoring`) reads them and replaces
a run's judgement atomically, on connections the store opens and guards.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from serving.store.models import RunSummary
from serving.store.queries import NEWEST, summary
from serving.store.schema import (
    account_facts,
    account_scores,
    run_monitoring,
    run_profiles,
    run_sources,
    scoring_runs,
    shadow_scores,
)


@dataclass(frozen=True)
class ShadowScore:
    """A challenger's probability for one account of a run (never shown to CSMs)."""

    account_id: str
    model_version: str
    probability: float


@dataclass(frozen=True)
class RunScore:
    """What monitoring needs of one stored score."""

    account_id: str
    probability: float
    band: str


@dataclass(frozen=True)
class Judgement:
    """A run's latest monitoring result, as stored."""

    run: RunSummary
    computed_at: dt.datetime
    verdict: str
    report: dict[str, Any]


def write_extras(conn: sa.Connection, run_id: int, counts: dict[str, Any] | None,
                 reference: dict[str, Any] | None, shadow: Sequence[ShadowScore],
                 facts: Mapping[str, dict[str, Any]] | None = None,
                 last_records: dict[str, str | None] | None = None) -> None:
    """The run's counts, its model's reference profile and shadow scores, and what its
    alert rules test (each account's facts, each source table's last record), inside the
    run's own transaction."""
    if facts:
        conn.execute(account_facts.insert(), [
            {"run_id": run_id, "account_id": account, "facts": values}
            for account, values in facts.items()])
    if last_records is not None:
        conn.execute(run_sources.insert().values(run_id=run_id, last_records=last_records))
    if counts is not None:
        conn.execute(run_profiles.insert().values(run_id=run_id, counts=counts,
                                                  reference=reference))
    if shadow:
        conn.execute(shadow_scores.insert(), [
            {"run_id": run_id, "account_id": s.account_id, "model_version": s.model_version,
             "probability": float(s.probability)} for s in shadow])


class RunMonitoring:
    """The monitoring rows of one score store."""

    def __init__(self, reading: Callable[[], AbstractContextManager[sa.Connection]],
                 writing: Callable[[str], AbstractContextManager[sa.Connection]]) -> None:
        self._reading, self._writing = reading, writing

    def counts(self, run_id: int) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """The run's counts over its model's reference bins and that reference profile;
        None for what the run was stored without."""
        with self._reading() as conn:
            row = conn.execute(sa.select(run_profiles.c.counts, run_profiles.c.reference)
                               .where(run_profiles.c.run_id == run_id)).first()
        if row is None:
            return None, None
        return dict(row[0]), None if row[1] is None else dict(row[1])

    def scores(self, run_id: int) -> list[RunScore]:
        c = account_scores.c
        with self._reading() as conn:
            rows = conn.execute(sa.select(c.account_id, c.probability, c.band)
                                .where(c.run_id == run_id).order_by(c.account_id)).all()
        return [RunScore(str(a), float(p), str(b)) for a, p, b in rows]

    def shadow(self, run_id: int) -> list[ShadowScore]:
        c = shadow_scores.c
        with self._reading() as conn:
            rows = conn.execute(sa.select(c.account_id, c.model_version, c.probability)
                                .where(c.run_id == run_id).order_by(c.account_id)).all()
        return [ShadowScore(str(a), str(v), float(p)) for a, v, p in rows]

    def save(self, run_id: int, verdict: str, report: dict[str, Any],
             computed_at: dt.datetime | None = None) -> None:
        """Replace the run's judgement with this one, in one transaction."""
        at = computed_at or dt.datetime.now(dt.UTC)
        with self._writing(f"Saving the monitoring of run {run_id}") as conn:
            conn.execute(run_monitoring.delete().where(run_monitoring.c.run_id == run_id))
            conn.execute(run_monitoring.insert().values(run_id=run_id, computed_at=at,
                                                        verdict=verdict, report=report))

    def judgements(self, limit: int = 24) -> list[Judgement]:
        """The newest judged runs' judgements, newest first (unjudged runs left out)."""
        m = run_monitoring.c
        query = (sa.select(scoring_runs, m.computed_at, m.verdict, m.report)
                 .join(run_monitoring, m.run_id == scoring_runs.c.id)
                 .order_by(*NEWEST).limit(limit))
        with self._reading() as conn:
            rows = conn.execute(query).all()
        return [Judgement(summary(row), row.computed_at, str(row.verdict), dict(row.report))
                for row in rows]
