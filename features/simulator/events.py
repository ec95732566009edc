"""The simulator's vocabulary: event types, segments, shocks and categorical levels.

These names are part of the source-data contract (usage event types) or of the truth
files (shock types, causes), so they live in one place. The contract module re-exports
the usage event names; nothing else should spell them as literals.
"""

from __future__ import annotations

from typing import Final

LOGIN: Final = "login"
"""One row per active user per day; ``quantity`` is that user's sessions that day."""

SESSION_MINUTES: Final = "session_minutes"
"""One row per account per active day; ``quantity`` is the account's total minutes."""

KEY_FEATURES: Final[tuple[str, ...]] = (
    "report_created",
    "dashboard_viewed",
    "integration_sync",
    "workflow_run",
    "export",
    "api_call",
)
"""Key product features; one row per account, day and feature with the day's count."""

EVENT_TYPES: Final[tuple[str, ...]] = (LOGIN, SESSION_MINUTES, *KEY_FEATURES)

SEGMENTS: Final[tuple[str, ...]] = ("smb", "mid_market", "enterprise")
REGIONS: Final[tuple[str, ...]] = ("NA", "EMEA", "APAC", "LATAM")
PLANS: Final[tuple[str, ...]] = ("starter", "growth", "enterprise")

# Shocks that lower the hidden health and therefore leave traces in the signals.
HEALTH_SHOCKS: Final[tuple[str, ...]] = (
    "poor_onboarding",
    "champion_left",
    "product_fit",
    "support_crisis",
)
# Shocks that raise churn risk without (much) observable trace: no model can see them.
UNFORESEEABLE_SHOCKS: Final[tuple[str, ...]] = ("budget_cut", "acquired")
SHOCK_TYPES: Final[tuple[str, ...]] = (*HEALTH_SHOCKS, *UNFORESEEABLE_SHOCKS)
CAUSES: Final[tuple[str, ...]] = ("none", *SHOCK_TYPES)
# The facets of an account's health, each read by its own channel of signals: usage depth
# (logins, minutes), adoption (engaged seats, key features), relationship (surveys, CSM
# notes) and support (ticket volume).
FACETS: Final[tuple[str, ...]] = ("engagement", "adoption", "relationship", "support")

TICKET_PRIORITIES: Final[tuple[str, ...]] = ("low", "normal", "high", "urgent")
TICKET_CATEGORIES: Final[tuple[str, ...]] = (
    "how_to",
    "bug",
    "billing",
    "integration",
    "performance",
    "outage",
    "access",
    "feature_request",
)
SURVEY_KINDS: Final[tuple[str, ...]] = ("nps", "csat")
SENTIMENTS: Final[tuple[str, ...]] = ("red", "yellow", "green")
