"""The API's request and response bodies, as the OpenAPI document shows them.

`AccountFeatures.features` is declared loosely here; the document replaces its schema
with the serving model's exact features (`serving.http.openapi`).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

MAX_ACCOUNTS = 1_000
# A thousand accounts of a hundred features take about 4 MB of JSON; a body past this is
# a mistake or an attack, and is refused (413) before it is read whole.
MAX_BODY_BYTES = 8 * 1024 * 1024
FeatureValue = float | int | str | bool | None


def _iso_text(value: Any) -> Any:
    """A date arrives as ISO text; pydantic would otherwise read 0 as 1970-01-01."""
    if not isinstance(value, str):
        raise ValueError("must be a date as text, YYYY-MM-DD")
    return value


IsoDate = Annotated[dt.date, BeforeValidator(_iso_text)]


class AccountFeatures(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_id: str = Field(min_length=1, max_length=200)
    as_of: IsoDate
    features: dict[str, FeatureValue]


class ScoreBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accounts: list[AccountFeatures] = Field(min_length=1, max_length=MAX_ACCOUNTS)


class ReasonOut(BaseModel):
    """One reason: a signal that pushed the risk up, said by its most telling feature."""

    signal: str = Field(description="The fact the reason is about, e.g. `executive_sponsor`, "
                        "`seat_adoption`, `support_load` (features.point_in_time.signals).")
    feature: str = Field(description="The signal's feature that pushed the risk most.")
    family: str = Field(description="The feature's family: usage, support, sentiment, "
                        "contract or lifecycle.")
    value: FeatureValue = Field(description="The account's value of `feature`.")
    contribution: float = Field(description="The signal's whole push on the risk in "
                                "log-odds (TreeSHAP, summed over its features).")
    text: str = Field(description="The reason in words, ending with the reference.")
    context: bool = Field(description="True for contract and account facts (term, price, "
                          "tenure) that push the risk but are not for a CSM to act on; "
                          "they come after the others.")
    reference: FeatureValue = Field(description="Typical value of `feature` among renewing "
                                    "training accounts of the same segment; null when "
                                    "most of them have none, or the model carries none.")
    reference_group: str = Field(description="Whose typical value `reference` is: the "
                                 "segment, `*` for all segments, empty without one.")


class ScoreOut(BaseModel):
    account_id: str
    as_of: dt.date
    probability: float = Field(description="Calibrated probability that the account does "
                               "not renew its current term.")
    band: Literal["high", "medium", "low"]
    model: dict[str, str] = Field(description="`name` and `version` of the scoring model.")
    reasons: list[ReasonOut] = Field(description="Up to five signals a CSM can act on, "
                                     "strongest against their usual push first, then the "
                                     "context signals that push (`context`: true).")
    families: dict[str, float] = Field(description="Contributions summed per feature family.")


class ScoreResponse(BaseModel):
    model: dict[str, str]
    scores: list[ScoreOut]


class AccountOut(BaseModel):
    """An account's latest stored score (`serving.store.models.AccountDetail`)."""

    latest: dict[str, Any] = Field(description="Its row of the ranked list, with `delta` "
                                   "(probability change since the previous run) and "
                                   "`moved_most`, the signal whose push changed most.")
    reasons: list[ReasonOut]
    families: dict[str, float]
    run_id: int
    model_version: str
    as_of: dt.date
    history: list[dict[str, Any]] = Field(description="Its scores in the newest runs, "
                                          "newest first.")
    evidence: dict[str, Any] | None = Field(description="The records behind the reasons, "
                                            "as of the run's date; null if not stored.")




class ReadyOut(BaseModel):
    """Readiness: 200 when ready, 503 with the same body when not."""

    ready: bool
    model_version: str | None = Field(description="The version serving, if any.")
    store: Literal["ok", "unreachable"]
    last_reload_error: str | None = Field(description="Why the last reload failed, if it did.")


class AlertOut(BaseModel):
    """One early warning (`serving.alerts.book.Alert`)."""

    id: int
    rule: str = Field(description="The rule that raised it; `stale_source` for a data alert.")
    account_id: str = Field(description="Empty for a data alert.")
    account_name: str
    csm_owner: str = Field(description="The account's CSM.")
    owner: str = Field(description="Who the alert is for: the CSM, or the rule's owner.")
    severity: Literal["info", "warning", "critical"]
    state: Literal["open", "acknowledged", "snoozed", "resolved"]
    outcome: str | None = Field(description="Once resolved: saved, churned, false_alarm, "
                                "no_action, or cleared (the rule stopped holding).")
    title: str
    first_run_id: int = Field(description="The scoring run that raised it.")
    first_as_of: dt.date
    run_id: int = Field(description="The newest run in which its rule held.")
    previous_run_id: int | None = Field(description="The run before `run_id`, if any.")
    model_version: str
    probability: float | None = Field(description="The score in `run_id`.")
    risk_change: float | None = Field(description="Points of risk since the previous run.")
    renewal_date: dt.date | None
    signals: list[dict[str, Any]] = Field(description="The signals whose push moved most "
                                          "since the previous run, most first.")
    facts: dict[str, Any] = Field(description="The facts the rule tested, when it held.")
    opened_at: dt.datetime
    updated_at: dt.datetime
    snoozed_until: dt.date | None
    resolved_at: dt.datetime | None
    note: str


class AlertPage(BaseModel):
    alerts: list[AlertOut] = Field(description="Most severe first, then riskiest, "
                                  "then newest.")
    total: int = Field(description="How many alerts match the filters in all.")
    page: int
    per_page: int


class AlertNote(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=2000, description="Saved with the alert.")


class SnoozeBody(AlertNote):
    days: int = Field(ge=1, le=365, description="Snooze for this many days: it opens "
                      "again on that day (UTC), shown as `snoozed_until`.")


class ResolveBody(AlertNote):
    outcome: Literal["saved", "churned", "false_alarm", "no_action"]
