"""The source-data contract (v1) of PRODUCT.md, as one declaration per table.

Loading (which columns to read and how to type them), validation (which rules to check),
the `churnlens contract` docs and the tests all read these declarations, so the contract
has exactly one definition.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np


class Kind(StrEnum):
    """How a column is parsed and stored once loaded."""

    ID = "id"  # any value, stored as string
    TIMESTAMP = "timestamp"  # ISO 8601, stored as timezone-aware UTC
    FLOAT = "float"  # stored as float64
    SMALL_FLOAT = "small_float"  # scores and counts, stored as float32 (exact for them)
    INT = "int"  # stored as nullable Int32
    BOOL = "bool"  # true/false, 1/0, yes/no; stored as nullable boolean
    CATEGORY = "category"  # few distinct values, stored as categorical
    TEXT = "text"  # free text, stored as string


DAY_NS = 86_400 * 10**9  # one UTC day in nanoseconds, the unit timestamps are stored in

# A renewal is the next term starting within a grace after the previous term's end. 30
# days suit an annual contract; on a monthly one they are a whole billing period, so the
# grace is a quarter of the term, from 7 days up to the configured `grace_days`.
GRACE_SHARE = 0.25
MIN_GRACE_DAYS = 7


def renewal_grace_days(term_days: np.ndarray | float, grace_days: int) -> np.ndarray:
    """The grace, in whole days, of terms `term_days` long under the setting `grace_days`
    (its upper bound): a quarter of the term, at least 7 days and at most `grace_days`."""
    days = np.floor(np.asarray(term_days, dtype=np.float64) * GRACE_SHARE)
    return np.asarray(np.clip(days, min(MIN_GRACE_DAYS, grace_days), grace_days),
                      dtype=np.int64)


@dataclass(frozen=True)
class Column:
    """One column: how to parse it and which values are allowed."""

    name: str
    kind: Kind
    description: str
    required: bool = True
    nullable: bool = False
    allowed: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    default: float | str | bool | None = None
    # Whether the column is an event date that may not lie after the data's end.
    dated: bool = False


@dataclass(frozen=True)
class Ordered:
    """Row rule: `later` must come after `earlier` (strictly, unless `strict` is False)."""

    earlier: str
    later: str
    strict: bool = True
    fix: str = ""


@dataclass(frozen=True)
class RangeByKind:
    """Row rule: `value` must lie in the range its `kind` column names."""

    value: str
    kind: str
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class Table:
    """One source table of the contract."""

    name: str
    description: str
    columns: tuple[Column, ...]
    mandatory: bool = False
    primary_key: tuple[str, ...] = ()
    # The column whose span `churnlens validate` reports.
    time_column: str | None = None
    ordered: tuple[Ordered, ...] = ()
    ranges_by_kind: tuple[RangeByKind, ...] = ()

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.name} has no column {name!r}")

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]


# Usage event types with a fixed meaning. Every other event_type counts as a product
# feature for adoption breadth.
LOGIN = "login"  # one row per active user and day; quantity = sessions
SESSION_MINUTES = "session_minutes"  # per account and day; quantity = minutes in sessions

NPS_KIND = "nps"
SURVEY_SCORE_RANGES: dict[str, tuple[float, float]] = {
    "nps": (0, 10), "csat": (1, 5), "ces": (1, 7),
}
TICKET_PRIORITIES = ("low", "normal", "high", "urgent")
CSM_SENTIMENTS = ("red", "yellow", "green")

_ACCOUNT_ID = Column("account_id", Kind.ID, "The customer account the record belongs to.")

ACCOUNTS = Table(
    name="accounts",
    description="One row per customer account.",
    mandatory=True,
    primary_key=("account_id",),
    time_column="created_at",
    columns=(
        Column("account_id", Kind.ID, "Unique account identifier."),
        Column("created_at", Kind.TIMESTAMP, "When the account was created.", dated=True),
        Column("name", Kind.TEXT, "Company name.", required=False, nullable=True),
        Column("segment", Kind.CATEGORY, "Customer segment, e.g. smb, mid_market, enterprise.",
               required=False, nullable=True),
        Column("industry", Kind.CATEGORY, "Industry.", required=False, nullable=True),
        Column("region", Kind.CATEGORY, "Sales region.", required=False, nullable=True),
        Column("csm_owner", Kind.CATEGORY, "Customer-success manager who owns the account.",
               required=False, nullable=True),
    ),
)

SUBSCRIPTIONS = Table(
    name="subscriptions",
    description="One row per contract term; a renewal is a new row of the same account.",
    mandatory=True,
    primary_key=("subscription_id",),
    time_column="start_date",
    columns=(
        Column("subscription_id", Kind.ID, "Unique term identifier."),
        _ACCOUNT_ID,
        Column("start_date", Kind.TIMESTAMP, "First day of the term.", dated=True),
        Column("end_date", Kind.TIMESTAMP, "Day the term ends (exclusive)."),
        Column("arr", Kind.FLOAT, "Annual recurring revenue of the term.", minimum=0),
        Column("seats", Kind.INT, "Licensed seats.", required=False, nullable=True, minimum=1),
        Column("plan", Kind.CATEGORY, "Plan or tier.", required=False, nullable=True),
        Column("auto_renew", Kind.BOOL, "Whether the term renews automatically.",
               required=False, nullable=True),
    ),
    ordered=(
        Ordered("start_date", "end_date",
                fix="each term must end after it starts; check for swapped or mistyped dates"),
    ),
)

USAGE_EVENTS = Table(
    name="usage_events",
    description="Product usage: raw events or daily counts per event type (quantity).",
    time_column="timestamp",
    columns=(
        _ACCOUNT_ID,
        Column("timestamp", Kind.TIMESTAMP, "When the usage happened.", dated=True),
        Column("event_type", Kind.CATEGORY,
               f"What happened: {LOGIN!r} (one row per user and day, quantity = sessions), "
               f"{SESSION_MINUTES!r} (quantity = minutes) or a product feature's name."),
        Column("user_id", Kind.ID, "The user, where known.", required=False, nullable=True),
        Column("quantity", Kind.SMALL_FLOAT, "How many events the row stands for.",
               required=False, nullable=True, minimum=0, default=1.0),
    ),
)

TICKETS = Table(
    name="tickets",
    description="Support tickets.",
    primary_key=("ticket_id",),
    time_column="opened_at",
    columns=(
        Column("ticket_id", Kind.ID, "Unique ticket identifier."),
        _ACCOUNT_ID,
        Column("opened_at", Kind.TIMESTAMP, "When the ticket was opened.", dated=True),
        Column("closed_at", Kind.TIMESTAMP, "When it was closed; empty while open.",
               required=False, nullable=True, dated=True),
        Column("priority", Kind.CATEGORY, "Ticket priority.", required=False, nullable=True,
               allowed=TICKET_PRIORITIES),
        Column("category", Kind.CATEGORY, "Ticket category.", required=False, nullable=True),
        Column("csat", Kind.SMALL_FLOAT, "Ticket CSAT rating 1-5.", required=False,
               nullable=True, minimum=1, maximum=5),
        Column("escalated", Kind.BOOL, "Whether the ticket was escalated.", required=False,
               nullable=True),
        Column("first_response_minutes", Kind.SMALL_FLOAT, "Minutes to first response.",
               required=False, nullable=True, minimum=0),
    ),
    ordered=(
        Ordered("opened_at", "closed_at", strict=False,
                fix="a ticket cannot close before it opens; check the time zones and "
                    "the order of the two columns"),
    ),
)

SURVEYS = Table(
    name="surveys",
    description="Survey responses: NPS (0-10), CSAT (1-5), CES (1-7).",
    time_column="responded_at",
    columns=(
        _ACCOUNT_ID,
        Column("responded_at", Kind.TIMESTAMP, "When the response was given.", dated=True),
        Column("kind", Kind.CATEGORY, "Survey kind.", allowed=tuple(SURVEY_SCORE_RANGES)),
        Column("score", Kind.SMALL_FLOAT, "The score, in the range of its kind."),
        Column("comment", Kind.TEXT, "Free-text comment.", required=False, nullable=True),
    ),
    ranges_by_kind=(RangeByKind("score", "kind", SURVEY_SCORE_RANGES),),
)

CSM_NOTES = Table(
    name="csm_notes",
    description="The CSM's sentiment about the account, noted over time.",
    time_column="noted_at",
    columns=(
        _ACCOUNT_ID,
        Column("noted_at", Kind.TIMESTAMP, "When the note was written.", dated=True),
        Column("sentiment", Kind.CATEGORY, "CSM sentiment.", allowed=CSM_SENTIMENTS),
        Column("text", Kind.TEXT, "The note.", required=False, nullable=True),
    ),
)

TABLES: dict[str, Table] = {
    t.name: t for t in (ACCOUNTS, SUBSCRIPTIONS, USAGE_EVENTS, TICKETS, SURVEYS, CSM_NOTES)
}

# Tables whose rows belong to an account and must name a known one.
ACCOUNT_TABLES = tuple(name for name, t in TABLES.items() if name != "accounts"
                       and "account_id" in t.column_names)


def describe_contract() -> str:
    """The contract as Markdown, for `churnlens contract` and the docs."""
    lines = ["# churnlens source-data contract (v1)", ""]
    for table in TABLES.values():
        need = "mandatory" if table.mandatory else "optional"
        lines += [f"## {table.name} ({need})", "", table.description, ""]
        if table.primary_key:
            lines += [f"Primary key: {', '.join(table.primary_key)}", ""]
        lines += ["| column | type | required | rule | description |", "|---|---|---|---|---|"]
        for col in table.columns:
            rule = []
            if col.allowed:
                rule.append("one of " + ", ".join(col.allowed))
            if col.minimum is not None:
                rule.append(f">= {col.minimum:g}")
            if col.maximum is not None:
                rule.append(f"<= {col.maximum:g}")
            if not col.nullable:
                rule.append("not empty")
            req = "yes" if col.required else "no"
            lines.append(f"| {col.name} | {col.kind} | {req} | {'; '.join(rule)} | "
                         f"{col.description} |")
        lines.append("")
    return "\n".join(lines)
