"""Short free-text templates for survey comments and CSM notes.

Text is picked by score band or sentiment (and by a known recent event for notes), so it
carries roughly the same signal as the number next to it, as real comments do. Records
store an index into these tuples; strings are materialised per chunk.
"""

from __future__ import annotations

from typing import Final

NPS_DETRACTOR: Final = (
    "Too expensive for what we actually use.",
    "Support takes days to answer.",
    "Reports are slow and often wrong.",
    "We struggle to get the team to adopt it.",
    "Missing integrations we need.",
    "Considering alternatives at renewal.",
)
NPS_PASSIVE: Final = (
    "Does the job, nothing special.",
    "Good product, onboarding could be better.",
    "Fine overall, pricing is a bit high.",
    "Useful, but the UI takes getting used to.",
)
NPS_PROMOTER: Final = (
    "Great product, the team loves it.",
    "Support is fast and helpful.",
    "Saves us hours every week.",
    "Dashboards are exactly what leadership needed.",
    "Would recommend to any ops team.",
)
CSAT_LOW: Final = ("Not satisfied with the recent changes.", "Too many issues lately.")
CSAT_HIGH: Final = ("Happy with the service.", "Works well for us.")
# Detractor comments after a product-fit problem name the workflow that no longer works.
NPS_FIT: Final = (
    "Our reporting workflow no longer fits how we work.",
    "The dashboards do not match our process any more.",
    "We moved our main workflow to another tool.",
)

COMMENTS: Final[tuple[str, ...]] = (
    *NPS_DETRACTOR, *NPS_PASSIVE, *NPS_PROMOTER, *CSAT_LOW, *CSAT_HIGH, *NPS_FIT
)  # fmt: skip
_starts = [0]
for _group in (NPS_DETRACTOR, NPS_PASSIVE, NPS_PROMOTER, CSAT_LOW, CSAT_HIGH, NPS_FIT):
    _starts.append(_starts[-1] + len(_group))
# (first index, count) of each comment group, in the order above
COMMENT_GROUPS: Final = {
    name: (_starts[i], _starts[i + 1] - _starts[i])
    for i, name in enumerate(
        ("detractor", "passive", "promoter", "csat_low", "csat_high", "fit_detractor"))
}

NOTES_BY_SENTIMENT: Final = {
    "red": (
        "Usage dropping; exec sponsor unresponsive.",
        "Customer frustrated, asked about contract terms.",
        "Escalation call; renewal at risk.",
        "Low adoption outside one team.",
    ),
    "yellow": (
        "Check-in done; some concerns about value.",
        "Adoption flat, planning enablement session.",
        "Open tickets weighing on the relationship.",
        "Quiet quarter, need to re-engage.",
    ),
    "green": (
        "QBR went well; expanding to another team.",
        "Happy customer, strong champion.",
        "Healthy usage, discussed roadmap.",
        "Good momentum after training.",
    ),
}
NOTES_BY_EVENT: Final = {
    "champion_left": "Our champion has left the company; new admin ramping up.",
    "support_crisis": "Incident hit the account; many urgent tickets this week.",
    "product_fit": "Customer says the product no longer fits their workflow.",
    "poor_onboarding": "Onboarding stalled; kickoff tasks still open.",
    "budget_cut": "Budget freeze announced; they are reviewing every tool.",
}
NOTES: Final[tuple[str, ...]] = (
    *NOTES_BY_SENTIMENT["red"],
    *NOTES_BY_SENTIMENT["yellow"],
    *NOTES_BY_SENTIMENT["green"],
    *NOTES_BY_EVENT.values(),
)
NOTE_SENTIMENT_START: Final = {"red": 0, "yellow": 4, "green": 8}
NOTE_SENTIMENT_COUNT: Final = 4
NOTE_EVENT_INDEX: Final = {name: 12 + i for i, name in enumerate(NOTES_BY_EVENT)}
