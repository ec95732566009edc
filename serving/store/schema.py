"""The score store's tables: one row per scoring run, one row per account per run.

The same schema serves SQLite and PostgreSQL. `scores` is narrow, since the ranked list
counts and filters a whole run of it: the account facts, the probability, ARR at risk
(stored, so both sort orders walk an index), the first reason's text and `drivers`, the
non-zero contribution of every feature (what "moved most" compares; older runs hold only
their reasons'). The full reasons and the
family contributions are JSON in `score_reasons`, read only for one account's detail, as
is the evidence behind them (last NPS, open tickets, weekly usage) in `score_evidence`.
`quarter_renewals` holds, per run, each account's renewal due in the run's quarter and its
outcome then (renewed, churned or open), with the account facts the book filters use:
churned accounts are no longer scored, so `scores` cannot supply them. `audit_events` is
the audit log. Monitoring (`serving.monitoring`) adds `run_profiles` (a run's counts over
its model's reference bins and that reference, written with the run), `run_monitoring`
(the run's latest judgement, rewritten as renewals resolve) and `shadow_scores` (a
challenger's scores of the same accounts, never shown to CSMs). Alerts
(`serving.alerts`) add `account_facts` and `run_sources` (what a run's rules test, written
with the run), `alerts` (one row per alert, kept when runs are pruned), `alert_deliveries`
(the webhook outbox) and `webhook_endpoints` (endpoints a receiver has disabled).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData()


class UtcDateTime(sa.types.TypeDecorator[dt.datetime]):
    """Timezone-aware datetimes stored as UTC, read back as UTC on every backend.

    SQLite keeps no offset, so values go in as UTC and come back with UTC attached.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect
                           ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("UtcDateTime needs a timezone-aware datetime")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


scoring_runs = sa.Table(
    "scoring_runs", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_version", sa.Text, nullable=False),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Index("ix_scoring_runs_as_of_id", "as_of", "id"),
)

account_scores = sa.Table(
    "scores", metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("scoring_runs.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("account_id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("segment", sa.Text, nullable=False),
    sa.Column("csm_owner", sa.Text, nullable=False),
    sa.Column("arr", sa.Float, nullable=False),
    sa.Column("renewal_date", sa.Date, nullable=True),
    sa.Column("probability", sa.Float, nullable=False),
    sa.Column("band", sa.String(20), nullable=False),
    sa.Column("arr_at_risk", sa.Float, nullable=False),
    sa.Column("top_reason", sa.Text, nullable=True),
    sa.Column("drivers", sa.JSON, nullable=False),
)

score_reasons = sa.Table(
    "score_reasons", metadata,
    sa.Column("run_id", sa.Integer, primary_key=True),
    sa.Column("account_id", sa.Text, primary_key=True),
    sa.Column("reasons", sa.JSON, nullable=False),
    sa.Column("families", sa.JSON, nullable=False),
    sa.ForeignKeyConstraint(["run_id", "account_id"], ["scores.run_id", "scores.account_id"],
                            ondelete="CASCADE"),
)

score_evidence = sa.Table(
    "score_evidence", metadata,
    sa.Column("run_id", sa.Integer, primary_key=True),
    sa.Column("account_id", sa.Text, primary_key=True),
    sa.Column("evidence", sa.JSON, nullable=False),
    sa.ForeignKeyConstraint(["run_id", "account_id"], ["scores.run_id", "scores.account_id"],
                            ondelete="CASCADE"),
)

quarter_renewals = sa.Table(
    "quarter_renewals", metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("scoring_runs.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("account_id", sa.Text, primary_key=True),
    sa.Column("subscription_id", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("segment", sa.Text, nullable=False),
    sa.Column("csm_owner", sa.Text, nullable=False),
    sa.Column("renewal_date", sa.Date, nullable=False),
    sa.Column("arr", sa.Float, nullable=False),
    sa.Column("outcome", sa.String(20), nullable=False),
)

run_profiles = sa.Table(
    "run_profiles", metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("scoring_runs.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("counts", sa.JSON, nullable=False),
    # the scoring model's reference profile, so a run is judged without the registry
    sa.Column("reference", sa.JSON, nullable=True),
)

run_monitoring = sa.Table(
    "run_monitoring", metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("scoring_runs.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("computed_at", UtcDateTime, nullable=False),
    sa.Column("verdict", sa.String(10), nullable=False),
    sa.Column("report", sa.JSON, nullable=False),
)

shadow_scores = sa.Table(
    "shadow_scores", metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("scoring_runs.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("account_id", sa.Text, primary_key=True),
    sa.Column("model_version", sa.Text, nullable=False),
    sa.Column("probability", sa.Float, nullable=False),
)

account_facts = sa.Table(
    "account_facts", metadata,
    sa.Column("run_id", sa.Integer, primary_key=True),
    sa.Column("account_id", sa.Text, primary_key=True),
    sa.Column("facts", sa.JSON, nullable=False),
    sa.ForeignKeyConstraint(["run_id", "account_id"], ["scores.run_id", "scores.account_id"],
                            ondelete="CASCADE"),
)

run_sources = sa.Table(
    "run_sources", metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("scoring_runs.id", ondelete="CASCADE"),
              primary_key=True),
    # each source table's last record before the run's as_of (ISO day, or null)
    sa.Column("last_records", sa.JSON, nullable=False),
)

# Alerts outlive the runs that raised them (no foreign key to scoring_runs): pruning old
# runs must not erase what CSMs did about them.
alerts = sa.Table(
    "alerts", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("rule", sa.String(40), nullable=False),
    sa.Column("account_id", sa.Text, nullable=False),  # '' for a data alert
    sa.Column("account_name", sa.Text, nullable=False),
    sa.Column("csm_owner", sa.Text, nullable=False),
    sa.Column("owner", sa.Text, nullable=False),
    sa.Column("severity", sa.String(10), nullable=False),
    sa.Column("state", sa.String(15), nullable=False),
    sa.Column("outcome", sa.String(15), nullable=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("first_run_id", sa.Integer, nullable=False),
    sa.Column("first_as_of", sa.Date, nullable=False),
    sa.Column("run_id", sa.Integer, nullable=False),  # the last run it held in
    sa.Column("previous_run_id", sa.Integer, nullable=True),
    sa.Column("checked_run_id", sa.Integer, nullable=False),  # the last run that judged it
    sa.Column("checked_as_of", sa.Date, nullable=False),
    sa.Column("quiet_runs", sa.Integer, nullable=False),  # runs in a row it has not held
    sa.Column("model_version", sa.Text, nullable=False),
    sa.Column("probability", sa.Float, nullable=True),
    sa.Column("risk_change", sa.Float, nullable=True),  # points since the previous run
    sa.Column("renewal_date", sa.Date, nullable=True),
    sa.Column("signals", sa.JSON, nullable=False),  # the signals that moved, most first
    sa.Column("facts", sa.JSON, nullable=False),  # the facts the rule tested, when it held
    sa.Column("opened_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("snoozed_until", sa.Date, nullable=True),
    sa.Column("resolved_at", UtcDateTime, nullable=True),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
)
# One alert not yet resolved per (account, rule): a repeat updates it.
_open = alerts.c.state != "resolved"
sa.Index("uq_alerts_unresolved", alerts.c.account_id, alerts.c.rule, unique=True,
         sqlite_where=_open, postgresql_where=_open)
sa.Index("ix_alerts_owner_state", alerts.c.owner, alerts.c.state, alerts.c.id)
sa.Index("ix_alerts_account", alerts.c.account_id, alerts.c.id)

alert_deliveries = sa.Table(
    "alert_deliveries", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # the alert it announces; null for a digest, which lists several (`digest_key`)
    sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id", ondelete="CASCADE"),
              nullable=True),
    sa.Column("digest_key", sa.Text, nullable=True, unique=True),
    sa.Column("endpoint", sa.String(40), nullable=False),
    sa.Column("message_id", sa.String(40), nullable=False, unique=True),  # webhook-id
    sa.Column("event", sa.String(30), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("state", sa.String(10), nullable=False),  # pending, delivered, dead
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UtcDateTime, nullable=False),
    sa.Column("last_status", sa.Integer, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("delivered_at", UtcDateTime, nullable=True),
    sa.Index("ix_alert_deliveries_due", "state", "next_attempt_at"),
)

# Runs whose alerts were evaluated, with what that did: evaluating a run again changes
# nothing, and alerts only move forward in time.
alert_evaluations = sa.Table(
    "alert_evaluations", metadata,
    sa.Column("run_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("evaluated_at", UtcDateTime, nullable=False),
    sa.Column("changes", sa.JSON, nullable=False),
)

webhook_endpoints = sa.Table(
    "webhook_endpoints", metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("disabled_at", UtcDateTime, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
)

# Who did what, when (`serving.store.audit`): sign-ins, exports, reloads. Kept apart from
# the runs, so pruning runs never removes it.
audit_events = sa.Table(
    "audit_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UtcDateTime, nullable=False, index=True),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Column("key_id", sa.String(16), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("label", sa.Text, nullable=False),
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("client", sa.Text, nullable=False),
)

# The ranked list walks one run in rank order (risk or ARR at risk; ties by account, so
# pages are stable) until a page of accounts passes the filters. Each index carries every
# filter column, so that walk and the filtered count read only the index, whatever the
# filters. History looks an account up across runs.
_c = account_scores.c
_FILTERS = (_c.band, _c.segment, _c.csm_owner, _c.renewal_date)
sa.Index("ix_scores_run_risk", _c.run_id, _c.probability.desc(), _c.account_id, *_FILTERS)
sa.Index("ix_scores_run_arr_at_risk", _c.run_id, _c.arr_at_risk.desc(), _c.account_id,
         *_FILTERS)
sa.Index("ix_scores_account_run", _c.account_id, _c.run_id)
