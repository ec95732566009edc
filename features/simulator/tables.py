"""Arrow schemas of the six source tables and the truth files, and chunk -> table builders.

The schemas are the simulator's side of the data contract: column names, order and
types are fixed here, so every chunk (and every run) writes identical layouts.
Timestamps are ``timestamp[us, tz=UTC]``; ids and categories are plain strings.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from features.simulator.dynamics import AccountDynamics, World
from features.simulator.events import (
    EVENT_TYPES,
    REGIONS,
    SEGMENTS,
    SENTIMENTS,
    SHOCK_TYPES,
    SURVEY_KINDS,
    TICKET_CATEGORIES,
    TICKET_PRIORITIES,
)
from features.simulator.fingerprints import presence
from features.simulator.records import NoteRecords, SurveyRecords, TicketRecords, UsageRecords
from features.simulator.risk import AsOfRows
from features.simulator.texts import COMMENTS, NOTES

TS = pa.timestamp("us", tz="UTC")

SCHEMAS: dict[str, pa.Schema] = {
    "accounts": pa.schema([
        ("account_id", pa.string()), ("created_at", TS), ("name", pa.string()),
        ("segment", pa.string()), ("industry", pa.string()), ("region", pa.string()),
        ("csm_owner", pa.string()),
    ]),
    "subscriptions": pa.schema([
        ("subscription_id", pa.string()), ("account_id", pa.string()), ("start_date", TS),
        ("end_date", TS), ("arr", pa.float64()), ("seats", pa.int64()), ("plan", pa.string()),
        ("auto_renew", pa.bool_()),
    ]),
    "usage_events": pa.schema([
        ("account_id", pa.string()), ("timestamp", TS), ("event_type", pa.string()),
        ("user_id", pa.string()), ("quantity", pa.float64()),
    ]),
    "tickets": pa.schema([
        ("ticket_id", pa.string()), ("account_id", pa.string()), ("opened_at", TS),
        ("closed_at", TS), ("priority", pa.string()), ("category", pa.string()),
        ("csat", pa.float64()), ("escalated", pa.bool_()),
        ("first_response_minutes", pa.float64()),
    ]),
    "surveys": pa.schema([
        ("account_id", pa.string()), ("responded_at", TS), ("kind", pa.string()),
        ("score", pa.float64()), ("comment", pa.string()),
    ]),
    "csm_notes": pa.schema([
        ("account_id", pa.string()), ("noted_at", TS), ("sentiment", pa.string()),
        ("text", pa.string()),
    ]),
}  # fmt: skip
SOURCE_TABLES: tuple[str, ...] = tuple(SCHEMAS)

TRUTH_SCHEMAS: dict[str, pa.Schema] = {
    "terms": pa.schema([
        ("subscription_id", pa.string()), ("account_id", pa.string()), ("segment", pa.string()),
        ("start_date", TS), ("end_date", TS), ("p_churn", pa.float64()),
        ("churned", pa.bool_()), ("cause", pa.string()), ("arr", pa.float64()),
        ("next_arr", pa.float64()),
        # shock kinds whose trace was in the signals before the renewal (`fingerprints`)
        ("fingerprints", pa.list_(pa.string())),
    ]),
    "shocks": pa.schema([("account_id", pa.string()), ("date", TS), ("shock_type", pa.string())]),
    # one row per term and monthly snapshot date on which it is current (`risk`)
    "risk_as_of": pa.schema([
        ("subscription_id", pa.string()), ("account_id", pa.string()), ("as_of", TS),
        ("p_churn_as_of", pa.float64()),
    ]),
}  # fmt: skip

_EVENT_NAMES = pa.array(EVENT_TYPES)
_REGION_NAMES = pa.array(REGIONS)
_PRIORITY_NAMES = pa.array(TICKET_PRIORITIES)
_CATEGORY_NAMES = pa.array(TICKET_CATEGORIES)
_KIND_NAMES = pa.array(SURVEY_KINDS)
_SENTIMENT_NAMES = pa.array(SENTIMENTS)
_COMMENT_TEXTS = pa.array(COMMENTS)
_NOTE_TEXTS = pa.array(NOTES)


def _names(labels: pa.Array, codes: npt.NDArray[np.integer]) -> pa.Array:
    """Strings for integer codes; negative codes become null."""
    return labels.take(pa.array(codes, mask=codes < 0))


def _ts(values: npt.NDArray[np.int64]) -> pa.Array:
    return pa.array(values, type=TS, mask=values < 0)


class ChunkTables:
    """Turns one chunk's records into Arrow tables; ``first`` is the chunk's first account."""

    def __init__(self, world: World, first: int, stop: int) -> None:
        self.world, self.first = world, first
        self.id_list = world.population.account_id[first:stop]
        self.ids = pa.array(self.id_list)

    def _account(self, account: npt.NDArray[np.int32]) -> pa.Array:
        return self.ids.take(pa.array(account - self.first))

    def accounts(self) -> pa.Table:
        pop, sl = self.world.population, slice(self.first, self.first + len(self.ids))
        return pa.Table.from_arrays(
            [
                self.ids,
                _ts(pop.created_us[sl]),
                pa.array(pop.name[sl]),
                pa.array([SEGMENTS[s] for s in pop.segment[sl]]),
                pa.array(pop.industry[sl]),
                _names(_REGION_NAMES, pop.region[sl]),
                pa.array(pop.csm_owner[sl]),
            ],
            schema=SCHEMAS["accounts"],
        )

    def subscriptions_and_truth(
        self, dynamics: Sequence[AccountDynamics]
    ) -> tuple[pa.Table, pa.Table, pa.Table]:
        """Subscriptions, truth terms and truth shocks: a Python loop over terms, not events."""
        tl = self.world.timeline
        sub: dict[str, list[object]] = {name: [] for name in SCHEMAS["subscriptions"].names}
        truth: dict[str, list[object]] = {name: [] for name in TRUTH_SCHEMAS["terms"].names}
        shocks: dict[str, list[object]] = {name: [] for name in TRUTH_SCHEMAS["shocks"].names}
        for dyn in dynamics:
            account_id = self.world.population.account_id[dyn.index]
            setup = dyn.contracts.setup
            for term in dyn.contracts.terms:
                sub_id = f"{account_id}-S{term.number:03d}"
                start, end = tl.day_us_int(term.start_day), tl.day_us_int(term.end_day)
                for table, row in (
                    (sub, (sub_id, account_id, start, end, term.arr, term.seats, setup.plan,
                           setup.auto_renew)),
                    (truth, (sub_id, account_id, SEGMENTS[dyn.segment], start, end,
                             term.p_churn, term.churned, term.cause, term.arr, term.next_arr,
                             presence(dyn.health, term.end_day))),
                ):  # fmt: skip
                    for name, value in zip(table, row, strict=True):
                        table[name].append(value)
            for shock in dyn.health.shocks:
                if shock.day < dyn.last_active_day:
                    shocks["account_id"].append(account_id)
                    shocks["date"].append(tl.day_us_int(shock.day))
                    shocks["shock_type"].append(SHOCK_TYPES[shock.kind])
        return (
            pa.Table.from_pydict(sub, schema=SCHEMAS["subscriptions"]),
            pa.Table.from_pydict(truth, schema=TRUTH_SCHEMAS["terms"]),
            pa.Table.from_pydict(shocks, schema=TRUTH_SCHEMAS["shocks"]),
        )

    def risk_as_of(
        self, dynamics: Sequence[AccountDynamics], rows: Sequence[AsOfRows]
    ) -> pa.Table:
        """Truth at each snapshot date: one `risk.AsOfRows` per account of ``dynamics``."""
        tl = self.world.timeline
        account_ids = [self.world.population.account_id[dyn.index] for dyn in dynamics]
        counts = [len(r.as_of_day) for r in rows]
        account = np.repeat(np.array(account_ids, dtype=object), counts)
        numbers = np.concatenate([r.term_number for r in rows]) if rows else np.zeros(0, int)
        days = np.concatenate([r.as_of_day for r in rows]) if rows else np.zeros(0, int)
        p = np.concatenate([r.p_churn for r in rows]) if rows else np.zeros(0)
        subscription = [f"{acc}-S{n:03d}" for acc, n in zip(account, numbers.tolist(), strict=True)]
        return pa.Table.from_arrays(
            [
                pa.array(subscription, type=pa.string()),
                pa.array(account.tolist(), type=pa.string()),
                _ts(tl.day_us(days)),
                pa.array(p, mask=np.isnan(p)),
            ],
            schema=TRUTH_SCHEMAS["risk_as_of"],
        )

    def usage(self, rec: UsageRecords) -> pa.Table:
        account = rec.account - self.first
        n_users = np.zeros(len(self.ids), dtype=np.int64)
        np.maximum.at(n_users, account, rec.user.astype(np.int64) + 1)
        offsets = np.concatenate([[0], np.cumsum(n_users)])
        user_ids = pa.array([
            f"{account_id}-u{u + 1:03d}"
            for account_id, count in zip(self.id_list, n_users, strict=True)
            for u in range(count)
        ])  # fmt: skip
        user_index = offsets[account] + rec.user
        return pa.Table.from_arrays(
            [
                self._account(rec.account),
                _ts(rec.ts),
                _names(_EVENT_NAMES, rec.event),
                user_ids.take(pa.array(user_index, mask=rec.user < 0)),
                pa.array(rec.quantity),
            ],
            schema=SCHEMAS["usage_events"],
        )

    def tickets(self, rec: TicketRecords) -> pa.Table:
        account = self._account(rec.account)
        number = pc.utf8_lpad(pc.cast(pa.array(rec.number), pa.string()), 4, "0")
        return pa.Table.from_arrays(
            [
                pc.binary_join_element_wise(account, number, "-T"),
                account,
                _ts(rec.opened),
                _ts(rec.closed),
                _names(_PRIORITY_NAMES, rec.priority),
                _names(_CATEGORY_NAMES, rec.category),
                pa.array(rec.csat, mask=np.isnan(rec.csat)),
                pa.array(rec.escalated),
                pa.array(rec.first_response),
            ],
            schema=SCHEMAS["tickets"],
        )

    def surveys(self, rec: SurveyRecords) -> pa.Table:
        return pa.Table.from_arrays(
            [
                self._account(rec.account),
                _ts(rec.ts),
                _names(_KIND_NAMES, rec.kind),
                pa.array(rec.score),
                _names(_COMMENT_TEXTS, rec.comment),
            ],
            schema=SCHEMAS["surveys"],
        )

    def notes(self, rec: NoteRecords) -> pa.Table:
        return pa.Table.from_arrays(
            [
                self._account(rec.account),
                _ts(rec.ts),
                _names(_SENTIMENT_NAMES, rec.sentiment),
                _names(_NOTE_TEXTS, rec.text),
            ],
            schema=SCHEMAS["csm_notes"],
        )
