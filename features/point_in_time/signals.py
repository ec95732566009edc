"""Signals: the facts a CSM recognises, each read by several correlated features.

Seven session-minute and login columns all say "the team uses the product less"; a
reason list that shows three of them says one thing three times. So every feature
belongs to exactly one signal, declared here by name patterns, and reasons are given
per signal. `CONTEXT` signals are facts of the contract and the account that push the
risk but are not something a CSM can change; they are shown apart as context.
"""

from __future__ import annotations

import re
from typing import Final

SIGNALS: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    # signal: (what it says, in a CSM's words; feature-name patterns, full matches)
    "executive_sponsor": ("the champion behind the account's usage", (
        r"busiest_user_.*", r"days_since_champion_left_note")),
    "feature_adoption": ("the use of the product's key features", (
        r".*_uses_\d+d", r".*_pace_28d_vs_90d", r"days_since_(?!last_login).*_use",
        r"adoption_breadth_\d+d", r"product_events_.*", r"days_since_product_fit_note")),
    "seat_adoption": ("how many of the licensed seats are in use", (
        r"active_users_.*", r"license_utilisation_\d+d", r"days_since_onboarding_stalled_note")),
    "engagement_depth": ("how much and how often the team works in the product", (
        r"logins_.*", r"session_minutes_.*", r"active_days_\d+d", r"minutes_per_active_user_28d",
        r"days_since_last_login")),
    "support_load": ("the support tickets and how they are handled", (
        r"tickets_opened_\d+d", r"ticket_surge_ratio", r".*open.*tickets?(_days)?",
        r"escalations_\d+d", r"median_resolution_hours_\d+d", r"ticket_csat_mean_\d+d",
        r"days_since_incident_note")),
    "sentiment": ("what the customer and the CSM say", (
        r"nps_.*", r"days_since_nps", r"csat_survey_.*", r"survey_responses_\d+d",
        r"csm_sentiment_.*", r"days_since_csm_note")),
    "commercial_terms": ("the contract: seats, price, term and renewal", (
        r"seats", r"seat_change_ratio", r"arr", r"arr_change_ratio", r"auto_renew",
        r"term_length_days", r"days_to_renewal", r"renewals_so_far", r"plan",
        r"days_since_budget_note")),
    "account_profile": ("who the customer is and how long it has been one", (
        r"tenure_days", r"lifecycle_stage", r"segment", r"industry", r"region")),
}
CONTEXT: Final = ("commercial_terms", "account_profile")
"""Signals shown as context: they push the risk, but a CSM cannot act on them."""

_COMPILED = {signal: [re.compile(p) for p in patterns]
             for signal, (_, patterns) in SIGNALS.items()}


def signal_of(feature_name: str) -> str:
    """The one signal a feature belongs to; ValueError when none or several claim it."""
    found = [signal for signal, patterns in _COMPILED.items()
             if any(p.fullmatch(feature_name) for p in patterns)]
    if len(found) != 1:
        raise ValueError(f"feature {feature_name!r} belongs to {len(found)} signals "
                         f"({', '.join(found) or 'none'}); declare it once in "
                         "features.point_in_time.signals.SIGNALS")
    return found[0]


def signal_or_family(feature_name: str, family: str) -> str:
    """The feature's signal; a column the catalog gives no signal (a model trained on an
    older catalog) keeps its family, so its contributions still add up somewhere."""
    try:
        return signal_of(feature_name)
    except ValueError:
        return family

