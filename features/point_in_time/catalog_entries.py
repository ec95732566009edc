"""The feature declarations, in catalog (and training-set column) order.

Read `features.point_in_time.catalog` for what each field means and the template rules. Names with
`<key>` are declared once and expanded per key product feature (`<key>_uses_28d` becomes
`report_created_uses_28d`); in their texts `<key>` reads as the feature's words.
"""

from __future__ import annotations

from dataclasses import replace

from features.point_in_time.catalog_types import Feature
from features.point_in_time.note_topics import TOPIC_WORDS
from features.point_in_time.signals import signal_of

_USAGE, _TICKETS, _SURVEYS, _NOTES = "usage_events", "tickets", "surveys", "csm_notes"


def _usage(name: str, dtype: str, unit: str, direction: str, description: str,
           template: str) -> Feature:
    return Feature(name, "usage", _USAGE, dtype, unit, direction, description, template)


def _trend(measure: str, words: str, unit: str) -> tuple[Feature, ...]:
    """The prior-window value, ratio and percent change of a 28-day usage measure."""
    now, before = f"{measure}_28d", f"{measure}_prev_28d"
    return (
        _usage(before, "int32" if measure == "active_users" else "float64", unit, "higher",
               f"{words.capitalize()} in the 28 days before the last 28 (days 56 to 29 "
               "before as_of).",
               f"{{value}} {words} in the 28 days before the last 28"),
        _usage(f"{measure}_trend_ratio", "float64", "ratio", "lower",
               f"{words.capitalize()} in the last 28 days over the 28 before; 1 when both "
               "are zero, missing when only the earlier window is zero.",
               f"{words.capitalize()} went from {{{before}}} to {{{now}}} over the last "
               "two 28-day windows (× {value})"),
        _usage(f"{measure}_trend_pct", "float64", "percent", "lower",
               f"Percent change of {words} between the 28 days before the last 28 and the "
               "last 28; 0 when both are zero, missing when only the earlier is zero.",
               f"{words.capitalize()} {{value:updown}} {{value:abs}}% in the last 28 days "
               f"({{{before}}} → {{{now}}})"),
    )


def _windows(measure: str, words: str, unit: str) -> tuple[Feature, ...]:
    return tuple(
        _usage(f"{measure}_{days}d", "float64", unit, "lower",
               f"{words.capitalize()} in the {days} days before as_of (sum of quantity).",
               f"{{value}} {words} in the last {days} days")
        for days in (7, 28, 90)
    )


def _active_users(days: int) -> tuple[Feature, ...]:
    """Distinct active users over a window, and the share of licensed seats they fill."""
    return (
        _usage(f"active_users_{days}d", "int32", "users", "lower",
               f"Distinct users who logged in during the {days} days before as_of (logins "
               "without user_id are not counted).",
               f"{{value}} active users in the last {days} days"),
        _usage(f"license_utilisation_{days}d", "float64", "share", "lower",
               f"Active users in the last {days} days over the current term's licensed "
               "seats; missing when seats are unknown.",
               f"{{active_users_{days}d}} of {{seats}} licensed seats active in the last "
               f"{days} days ({{value:pct}})"),
    )


USAGE: tuple[Feature, ...] = (
    *_windows("logins", "login sessions", "sessions"),
    *_windows("session_minutes", "minutes in sessions", "minutes"),
    *_windows("product_events", "product feature events", "events"),
    *(
        _usage(f"<key>_uses_{days}d", "float64", "events", "lower",
               f"Uses of the <key> feature in the {days} days before as_of.",
               f"The <key> feature was used {{value}} times in the last {days} days")
        for days in (7, 28, 90)
    ),
    _usage("<key>_pace_28d_vs_90d", "float64", "ratio", "lower",
           "Daily uses of <key> in the 28 days before as_of over its daily uses in the 90 "
           "days before; 1 is a steady pace, below 1 a decline; missing without use.",
           "The <key> feature is used at {value:pct} of its 90-day pace in the last 28 "
           "days"),
    _usage("days_since_<key>_use", "float64", "days", "higher",
           "Whole days since the day <key> was last used; missing when never used.",
           "The <key> feature was last used {value} days ago"),
    _usage("days_since_last_login", "float64", "days", "higher",
           "Whole days since the last day with a login; missing when nobody ever logged in.",
           "Last login {value} days ago"),
    _usage("active_days_28d", "int32", "days", "lower",
           "Days with any usage in the 28 days before as_of.",
           "Used the product on {value} of the last 28 days"),
    *_active_users(28),
    *_active_users(90),
    _usage("minutes_per_active_user_28d", "float64", "minutes", "lower",
           "Session minutes per active user over the last 28 days; missing without users.",
           "{value} session minutes per active user in the last 28 days"),
    _usage("adoption_breadth_28d", "int32", "features", "lower",
           "Distinct key product features used in the 28 days before as_of.",
           "Used {value} key features in the last 28 days"),
    _usage("adoption_breadth_90d", "int32", "features", "lower",
           "Distinct key product features used in the 90 days before as_of.",
           "Used {value} key features in the last 90 days"),
    _usage("busiest_user_days_since_active", "float64", "days", "higher",
           "Whole days since the busiest user of the last 90 days (most login sessions) "
           "was last active; missing when nobody logged in during them.",
           "The user behind {busiest_user_share_90d:pct} of the last 90 days' sessions "
           "was last active {value} days ago"),
    _usage("busiest_user_share_90d", "float64", "share", "higher",
           "The busiest user's share of the login sessions in the 90 days before as_of; "
           "missing when nobody logged in during them.",
           "One user carried {value:pct} of the login sessions in the last 90 days"),
    *_trend("active_users", "active users", "users"),
    *_trend("logins", "login sessions", "sessions"),
    *_trend("product_events", "product feature events", "events"),
    *_trend("session_minutes", "session minutes", "minutes"),
)


def _support(name: str, dtype: str, unit: str, direction: str, description: str,
             template: str) -> Feature:
    return Feature(name, "support", _TICKETS, dtype, unit, direction, description, template)


SUPPORT: tuple[Feature, ...] = (
    _support("tickets_opened_30d", "int32", "tickets", "higher",
             "Tickets opened in the 30 days before as_of.",
             "{value} support tickets opened in the last 30 days"),
    _support("tickets_opened_90d", "int32", "tickets", "higher",
             "Tickets opened in the 90 days before as_of.",
             "{value} support tickets opened in the last 90 days"),
    _support("tickets_opened_365d", "int32", "tickets", "higher",
             "Tickets opened in the 365 days before as_of.",
             "{value} support tickets opened in the last year"),
    _support("ticket_surge_ratio", "float64", "ratio", "higher",
             "Tickets per day in the 30 days before as_of over tickets per day in the 365 "
             "days before; missing without a ticket in the year.",
             "{tickets_opened_30d} tickets in the last 30 days: {value}× the account's "
             "usual pace"),
    _support("open_tickets", "int32", "tickets", "higher",
             "Tickets open at as_of: opened before it and not closed before it.",
             "{value} support tickets open"),
    _support("oldest_open_ticket_days", "float64", "days", "higher",
             "Age at as_of of the oldest open ticket; missing when none is open.",
             "The oldest open ticket has waited {value} days"),
    _support("open_high_urgent_tickets", "int32", "tickets", "higher",
             "Open tickets of high or urgent priority at as_of.",
             "{value} high or urgent tickets open"),
    _support("escalations_90d", "int32", "tickets", "higher",
             "Escalated tickets among those opened in the 90 days before as_of (the "
             "escalation flag is taken as known when the ticket opens).",
             "{value} escalated tickets in the last 90 days"),
    _support("median_resolution_hours_90d", "float64", "hours", "higher",
             "Median open-to-close time of tickets closed in the 90 days before as_of.",
             "Tickets took a median {value} hours to resolve over the last 90 days"),
    _support("ticket_csat_mean_180d", "float64", "score 1-5", "lower",
             "Mean CSAT of tickets closed in the 180 days before as_of (the rating "
             "follows the close).",
             "Support tickets were rated {value} of 5 on average over the last 180 days"),
)


def _sentiment(name: str, table: str, dtype: str, unit: str, direction: str,
               description: str, template: str,
               categories: tuple[str, ...] | None = None) -> Feature:
    return Feature(name, "sentiment", table, dtype, unit, direction, description, template,
                   categories)


NPS_CATEGORIES = ("detractor", "passive", "promoter")
SENTIMENTS = ("red", "yellow", "green")

SENTIMENT: tuple[Feature, ...] = (
    _sentiment("nps_latest", _SURVEYS, "float64", "score 0-10", "lower",
               "The latest NPS answer before as_of; missing when none.",
               "Latest NPS answer was {value}"),
    _sentiment("nps_category", _SURVEYS, "category", "", "category",
               "The latest NPS answer's category: detractor 0-6, passive 7-8, promoter 9-10.",
               "Latest NPS answer was a {value} ({nps_latest})", NPS_CATEGORIES),
    _sentiment("days_since_nps", _SURVEYS, "float64", "days", "higher",
               "Days since the latest NPS answer; missing when none.",
               "Latest NPS answer was {value} days ago"),
    _sentiment("nps_change", _SURVEYS, "float64", "points", "lower",
               "Latest NPS answer minus the one before it; missing with fewer than two.",
               "NPS moved {value} points since the previous answer (now {nps_latest})"),
    _sentiment("csat_survey_mean_180d", _SURVEYS, "float64", "score 1-5", "lower",
               "Mean relationship-CSAT survey score in the 180 days before as_of.",
               "CSAT surveys averaged {value} of 5 over the last 180 days"),
    _sentiment("survey_responses_365d", _SURVEYS, "int32", "responses", "lower",
               "Survey answers of any kind in the 365 days before as_of.",
               "{value} survey answers in the last year"),
    _sentiment("csm_sentiment_latest", _NOTES, "category", "", "category",
               "The CSM's latest sentiment note before as_of (red, yellow, green).",
               "The CSM's latest read is {value}", SENTIMENTS),
    _sentiment("csm_sentiment_change", _NOTES, "float64", "steps", "lower",
               "Latest CSM sentiment minus the previous one, on red=0, yellow=1, green=2.",
               "CSM sentiment moved {value} steps since the previous note (now "
               "{csm_sentiment_latest})"),
    _sentiment("days_since_csm_note", _NOTES, "float64", "days", "higher",
               "Days since the CSM's latest sentiment note; missing when none.",
               "The CSM's last note was {value} days ago"),
    _sentiment("csm_sentiment_mean_365d", _NOTES, "float64", "red=0 .. green=2", "lower",
               "Mean sentiment of the CSM's notes in the 365 days before as_of, on red=0, "
               "yellow=1, green=2; missing when none.",
               "The CSM's notes of the last year averaged {value:.1f} on a scale of red 0, "
               "yellow 1, green 2"),
    *(_sentiment(f"days_since_{topic}_note", _NOTES, "float64", "days", "lower",
                 f"Days since the latest CSM note naming {words} (phrases in "
                 "features.point_in_time.note_topics); missing when no note did.",
                 f"The CSM noted {words} {{value}} days ago")
      for topic, words in TOPIC_WORDS.items()),
)


def _contract(name: str, dtype: str, unit: str, direction: str, description: str,
              template: str, categories: tuple[str, ...] | None = None) -> Feature:
    return Feature(name, "contract", None, dtype, unit, direction, description, template,
                   categories)


LIFECYCLE_STAGES = ("onboarding", "adoption", "escalation", "renewal")

CONTRACT: tuple[Feature, ...] = (
    _contract("tenure_days", "float64", "days", "lower",
              "Days since the account's first term started.",
              "Customer for {value} days"),
    _contract("days_to_renewal", "float64", "days", "lower",
              "Days from as_of to the current term's end.",
              "Renewal due in {value} days"),
    _contract("term_length_days", "float64", "days", "lower",
              "Length of the current term in days.",
              "Current term runs {value} days"),
    _contract("arr", "float64", "USD", "lower", "ARR of the current term.",
              "ARR of {value}"),
    _contract("seats", "float64", "seats", "lower",
              "Licensed seats of the current term; missing when unknown.",
              "{value} licensed seats"),
    _contract("arr_change_ratio", "float64", "ratio", "lower",
              "Current term's ARR over the previous term's; missing for the first term.",
              "ARR is × {value} of the previous term's (now {arr})"),
    _contract("seat_change_ratio", "float64", "ratio", "lower",
              "Current term's licensed seats over the previous term's; missing for the "
              "first term or unknown seats.",
              "Seats are × {value} of the previous term's (now {seats})"),
    _contract("renewals_so_far", "int32", "terms", "lower",
              "Terms of the account that started before the current one.",
              "Renewed {value} times so far"),
    _contract("auto_renew", "float64", "flag", "lower",
              "1 when the current term renews automatically, 0 when not, missing if unknown.",
              "Auto-renewal: {value:yesno}"),
    _contract("plan", "category", "", "category", "Plan of the current term.",
              "On the {value} plan"),
    _contract("segment", "category", "", "category",
              "Customer segment (static firmographic).", "In the {value} segment"),
    _contract("industry", "category", "", "category", "Industry (static firmographic).",
              "In the {value} industry"),
    _contract("region", "category", "", "category", "Sales region (static firmographic).",
              "In the {value} region"),
    _contract("lifecycle_stage", "category", "", "category",
              "Stage at as_of, first match wins: escalation (open urgent or escalated "
              "tickets, or red CSM sentiment), onboarding (first 90 days of tenure), "
              "renewal (term ends within 90 days), else adoption.",
              "In the {value} stage", LIFECYCLE_STAGES),
)


def _trend_missing(measure: str, words: str) -> dict[str, str]:
    """A trend is missing when only the earlier window is zero: growth from nothing."""
    sentence = (f"{words.capitalize()} went from none to {{{measure}_28d}} over the last "
                "two 28-day windows")
    return {f"{measure}_trend_ratio": sentence, f"{measure}_trend_pct": sentence}


# What a CSM reads when a feature's own value is missing (see `Feature.missing`). A test
# builds features from sources with gaps and checks every column that can be missing
# has its sentence here.
WHEN_MISSING: dict[str, str] = {
    "days_since_<key>_use": "The <key> feature has never been used",
    "<key>_pace_28d_vs_90d": "The <key> feature was not used in the last 90 days",
    "days_since_last_login": "Nobody has ever logged in",
    "license_utilisation_28d": "{active_users_28d} active users in the last 28 days; the "
                               "licensed seats are unknown",
    "license_utilisation_90d": "{active_users_90d} active users in the last 90 days; the "
                               "licensed seats are unknown",
    "minutes_per_active_user_28d": "No active users in the last 28 days",
    "busiest_user_days_since_active": "Nobody logged in during the last 90 days",
    "busiest_user_share_90d": "Nobody logged in during the last 90 days",
    **_trend_missing("active_users", "active users"),
    **_trend_missing("logins", "login sessions"),
    **_trend_missing("product_events", "product feature events"),
    **_trend_missing("session_minutes", "session minutes"),
    "oldest_open_ticket_days": "No support ticket is open",
    "ticket_surge_ratio": "No support ticket in the last year",
    "median_resolution_hours_90d": "No support ticket was resolved in the last 90 days",
    "ticket_csat_mean_180d": "No support ticket was rated in the last 180 days",
    "nps_latest": "No NPS answer yet",
    "nps_category": "No NPS answer yet",
    "days_since_nps": "No NPS answer yet",
    "nps_change": "Fewer than two NPS answers so far",
    "csat_survey_mean_180d": "No CSAT survey answer in the last 180 days",
    "csm_sentiment_latest": "No CSM sentiment note yet",
    "csm_sentiment_change": "Fewer than two CSM sentiment notes so far",
    "days_since_csm_note": "No CSM note yet",
    "csm_sentiment_mean_365d": "No CSM note in the last year",
    **{f"days_since_{topic}_note": f"No CSM note has named {words}"
       for topic, words in TOPIC_WORDS.items()},
    "seats": "The licensed seats are unknown",
    "arr_change_ratio": "First term: no earlier ARR to compare with (now {arr})",
    "seat_change_ratio": "No earlier seat count to compare with",
    "auto_renew": "Whether the term renews automatically is unknown",
    "plan": "The plan is unknown",
    "segment": "The segment is unknown",
    "industry": "The industry is unknown",
    "region": "The region is unknown",
}

ENTRIES: tuple[Feature, ...] = tuple(
    replace(entry, missing=WHEN_MISSING.get(entry.name, ""), signal=signal_of(entry.name))
    for entry in (*USAGE, *SUPPORT, *SENTIMENT, *CONTRACT)
)
