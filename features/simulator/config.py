"""One typed configuration for the simulator, with a sub-model per mechanism.

Every knob has a default that yields a plausible B2B SaaS base (gross logo churn of
roughly 8-20% a year, worst for SMB; NRR around 95-115%). Models are strict
(``extra="forbid"``) so a misspelt knob fails fast instead of being silently ignored.
The whole config is written to ``dataset.json``, so a dataset can be regenerated.

Health is a latent score ``z`` on the logit scale (``sigmoid(z)`` is the 0-1 health the
signals see). Shock magnitudes and coefficients below are in those latent units.
"""

from __future__ import annotations

import datetime as dt
from typing import Self

import numpy as np
from pydantic import Field, model_validator

from features.simulator.events import KEY_FEATURES, PLANS, SEGMENTS
from features.simulator.fingerprint_config import FingerprintsConfig, Strict


class SegmentConfig(Strict):
    """What an account of one segment looks like and how it tends to behave."""

    share: float = Field(ge=0, le=1, description="share of accounts in this segment")
    seats: tuple[int, int] = Field(description="initial seats, drawn log-uniform")
    price_per_seat: tuple[float, float] = Field(description="list price, USD per seat-month")
    term_months: dict[int, float] = Field(description="term length in months -> share")
    plan_mix: dict[str, float]
    auto_renew_share: float = Field(ge=0, le=1)
    health_mean: float = Field(description="mean of the account's baseline latent health")
    churn_intercept: float = Field(description="logit of annual churn at latent health 0")
    tickets_per_year: float = Field(ge=0, description="at a reference size of 20 seats")
    csm_book_size: int = Field(ge=1, description="accounts per CSM")
    csm_notes_per_year: float = Field(ge=0)
    login_rate: float = Field(gt=0, le=1, description="weekday login chance, healthy user")
    survey_contacts: int = Field(ge=1, description="contacts invited to each NPS survey")

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not 1 <= self.seats[0] <= self.seats[1]:
            raise ValueError("seats must be (low, high) with 1 <= low <= high")
        if not 0 <= self.price_per_seat[0] <= self.price_per_seat[1]:
            raise ValueError("price_per_seat must be (low, high) with 0 <= low <= high")
        if not self.term_months or any(m < 1 for m in self.term_months):
            raise ValueError("term_months needs at least one term length of >= 1 month")
        unknown = set(self.plan_mix) - set(PLANS)
        if unknown:
            raise ValueError(f"unknown plans {sorted(unknown)}; use {list(PLANS)}")
        for name, mix in (("term_months", self.term_months), ("plan_mix", self.plan_mix)):
            if any(v < 0 for v in mix.values()) or abs(sum(mix.values()) - 1) > 1e-6:
                raise ValueError(f"{name} shares must be >= 0 and sum to 1")
        return self


def _smb() -> SegmentConfig:
    return SegmentConfig(
        share=0.65, seats=(3, 20), price_per_seat=(25.0, 45.0),
        term_months={1: 0.6, 12: 0.4}, plan_mix={"starter": 0.7, "growth": 0.3},
        auto_renew_share=0.75, health_mean=0.0, churn_intercept=-2.95,
        tickets_per_year=6.0, csm_book_size=90, csm_notes_per_year=4.0,
        login_rate=0.42, survey_contacts=1,
    )  # fmt: skip


def _mid_market() -> SegmentConfig:
    return SegmentConfig(
        share=0.27, seats=(15, 60), price_per_seat=(40.0, 70.0),
        term_months={1: 0.15, 12: 0.8, 24: 0.05}, plan_mix={"growth": 0.7, "enterprise": 0.3},
        auto_renew_share=0.5, health_mean=0.25, churn_intercept=-3.0,
        tickets_per_year=10.0, csm_book_size=35, csm_notes_per_year=12.0,
        login_rate=0.38, survey_contacts=2,
    )  # fmt: skip


def _enterprise() -> SegmentConfig:
    return SegmentConfig(
        share=0.08, seats=(50, 200), price_per_seat=(70.0, 120.0),
        term_months={12: 0.6, 24: 0.25, 36: 0.15}, plan_mix={"enterprise": 1.0},
        auto_renew_share=0.25, health_mean=0.45, churn_intercept=-2.75,
        tickets_per_year=14.0, csm_book_size=18, csm_notes_per_year=26.0,
        login_rate=0.33, survey_contacts=4,
    )  # fmt: skip


class SegmentsConfig(Strict):
    smb: SegmentConfig = Field(default_factory=_smb)
    mid_market: SegmentConfig = Field(default_factory=_mid_market)
    enterprise: SegmentConfig = Field(default_factory=_enterprise)

    def ordered(self) -> tuple[SegmentConfig, ...]:
        """Segment configs in the order of `events.SEGMENTS` (segment code order)."""
        return tuple(getattr(self, name) for name in SEGMENTS)

    def with_terms(self, months: int) -> SegmentsConfig:
        """Every segment on terms of `months` months only (e.g. a monthly-only base)."""
        return self.model_copy(update={
            name: getattr(self, name).model_copy(update={"term_months": {months: 1.0}})
            for name in SEGMENTS})

    @model_validator(mode="after")
    def _shares_sum_to_one(self) -> Self:
        if abs(sum(s.share for s in self.ordered()) - 1) > 1e-6:
            raise ValueError("segment shares must sum to 1")
        return self


class HealthConfig(Strict):
    """The hidden health process: a per-account baseline plus a slow AR(1) drift.

    The baseline is a shared part (``baseline_sd``) plus four facets (``facet_sd`` each,
    `events.FACETS`); its whole spread is ``sqrt(baseline_sd**2 + 4 * facet_sd**2)``.
    Each channel of signals reads the shared part and ``facet_weight`` times its facet.
    """

    baseline_sd: float = Field(default=0.5, ge=0, description="spread of the shared baseline")
    facet_sd: float = Field(default=0.28, ge=0, description="spread of each facet")
    facet_weight: float = Field(default=1.0, ge=0, description="how strongly a channel shows "
                                "its facet")
    drift_sd: float = Field(default=0.45, ge=0, description="stationary sd of the AR(1) drift")
    drift_persistence: float = Field(
        default=0.985, ge=0, lt=1, description="daily AR(1) coefficient"
    )


class ShockConfig(Strict):
    """One shock mechanism: how often it hits and how it moves health and renewal.

    The latent health drop ramps in over ``ramp_days``, then decays with time constant
    ``recovery_days`` towards ``persistent_share`` of the full drop. ``churn_probability``
    is an extra, health-independent chance of non-renewal at any renewal decision within
    ``window_days`` after the shock (the unforeseeable mechanisms).
    """

    rate_per_year: float = Field(ge=0, description="events per account-year (or share)")
    drop: float = Field(ge=0, description="latent health drop at full effect")
    ramp_days: int = Field(default=1, ge=1)
    recovery_days: float = Field(default=120.0, gt=0)
    persistent_share: float = Field(default=0.0, ge=0, le=1)
    churn_probability: float = Field(default=0.0, ge=0, le=1)
    window_days: int = Field(default=365, ge=1)


class ShocksConfig(Strict):
    """Defaults per shock. ``poor_onboarding.rate_per_year`` is a share of new sign-ups."""

    poor_onboarding: ShockConfig = ShockConfig(
        rate_per_year=0.3, drop=1.4, ramp_days=14, recovery_days=150, persistent_share=0.35
    )
    # A champion's successor often re-opens the buying decision: a churn chance of its own.
    champion_left: ShockConfig = ShockConfig(
        rate_per_year=0.12, drop=0.9, ramp_days=7, recovery_days=150, persistent_share=0.3,
        churn_probability=0.25, window_days=240,
    )
    product_fit: ShockConfig = ShockConfig(
        rate_per_year=0.07, drop=1.5, ramp_days=90, recovery_days=400, persistent_share=0.6
    )
    support_crisis: ShockConfig = ShockConfig(
        rate_per_year=0.08, drop=1.6, ramp_days=3, recovery_days=60, persistent_share=0.15
    )
    budget_cut: ShockConfig = ShockConfig(
        rate_per_year=0.05, drop=0.15, ramp_days=30, recovery_days=180, churn_probability=0.45
    )
    acquired: ShockConfig = ShockConfig(
        rate_per_year=0.025, drop=0.0, churn_probability=0.55, window_days=365
    )
    crisis_ticket_multiplier: float = Field(
        default=5.0, ge=1, description="ticket rate in a crisis"
    )
    crisis_days: int = Field(default=30, ge=1, description="length of the ticket surge")
    onboarding_adoption_slowdown: float = Field(default=2.5, ge=1)


class RenewalConfig(Strict):
    """The renewal decision: annual churn logit from health near renewal and context.

    ``logit(p_year) = churn_intercept[segment] - health_coef * mean_z(window)
    + tenure_coef * exp(-tenure_years / tenure_scale_years) + price_coef * uplift
    + auto_renew_coef * auto_renew``; a term of L months churns with
    ``1 - (1 - p_year) ** (L / 12)`` (one decision for terms of a year or more), then
    unforeseeable shocks add their own chance.
    """

    grace_days: int = Field(default=30, ge=0)
    health_window_days: int = Field(default=60, ge=1)
    health_coef: float = Field(default=1.45, ge=0)
    tenure_coef: float = 0.7
    tenure_scale_years: float = Field(default=1.0, gt=0)
    price_coef: float = 4.0
    auto_renew_coef: float = -0.35
    late_share: float = Field(
        default=0.25, ge=0, le=1, description="manual renewals that come late"
    )
    cause_min_share: float = Field(
        default=0.3,
        ge=0,
        le=1,
        description="share of the risk a mechanism must explain to be the cause",
    )


class ExpansionConfig(Strict):
    """Seat and price changes at renewal (scaled to the term length)."""

    seat_growth: float = Field(default=0.06, description="mean log seat change per year at z=0")
    health_coef: float = Field(default=0.12, description="extra log growth per unit latent health")
    seat_sd: float = Field(default=0.2, ge=0)
    price_uplift_max: float = Field(
        default=0.08, ge=0, description="max yearly list-price increase"
    )
    budget_cut_seats: tuple[float, float] = (0.5, 0.85)


class UsageConfig(Strict):
    weekday_factors: tuple[float, float, float, float, float, float, float] = (
        1.0, 1.05, 1.05, 1.0, 0.85, 0.1, 0.07,
    )  # fmt: skip
    holiday_factor: float = Field(default=0.25, ge=0, le=1)
    user_propensity: tuple[float, float] = Field(
        default=(1.6, 1.4), description="Beta(a, b) of a user's relative login propensity"
    )
    health_floor: float = Field(
        default=0.2,
        ge=0,
        le=1,
        description="share of seats engaged at zero health (1 at full health)",
    )
    dormant_factor: float = Field(
        default=0.02, ge=0, le=1, description="login odds of a dormant seat"
    )
    extra_sessions: float = Field(default=0.5, ge=0, description="Poisson mean of extra sessions")
    minutes_per_session: float = Field(default=14.0, gt=0)
    onboarding_days: int = Field(default=45, ge=1, description="ramp of users after sign-up")
    feature_rates: dict[str, float] = Field(
        default_factory=lambda: {
            "report_created": 0.25,
            "dashboard_viewed": 1.2,
            "integration_sync": 0.8,
            "workflow_run": 0.5,
            "export": 0.15,
            "api_call": 3.0,
        },
        description="daily events per active user once the feature is adopted",
    )
    never_adopt: dict[str, float] = Field(
        default_factory=lambda: {
            "report_created": 0.05,
            "dashboard_viewed": 0.03,
            "integration_sync": 0.35,
            "workflow_run": 0.3,
            "export": 0.2,
            "api_call": 0.55,
        },
    )
    adoption_days: dict[str, float] = Field(
        default_factory=lambda: {
            "report_created": 10.0,
            "dashboard_viewed": 5.0,
            "integration_sync": 45.0,
            "workflow_run": 40.0,
            "export": 25.0,
            "api_call": 75.0,
        },
        description="mean days from sign-up to first use",
    )

    @model_validator(mode="after")
    def _features_known(self) -> Self:
        for name in ("feature_rates", "never_adopt", "adoption_days"):
            if set(getattr(self, name)) != set(KEY_FEATURES):
                raise ValueError(f"usage.{name} needs exactly the keys {list(KEY_FEATURES)}")
        return self


class SupportConfig(Strict):
    priority_weights: tuple[float, float, float, float] = (0.3, 0.5, 0.15, 0.05)
    first_response_minutes: tuple[float, float, float, float] = (480.0, 240.0, 60.0, 20.0)
    resolution_hours: tuple[float, float, float, float] = (72.0, 36.0, 16.0, 8.0)
    csat_share: float = Field(
        default=0.45, ge=0, le=1, description="closed tickets that get a rating"
    )
    escalation_base: float = Field(default=-4.5, description="logit of escalation for a low ticket")


class SurveyConfig(Strict):
    nps_per_year: float = Field(default=2.0, ge=0, description="NPS invitations per account-year")
    csat_per_year: float = Field(default=1.0, ge=0, description="relationship CSAT invitations")
    response_rate: float = Field(default=0.35, ge=0, le=1)
    response_bias: float = Field(
        default=1.0, description="> 0: unhappy customers answer less; < 0: they answer more"
    )
    comment_share: float = Field(default=0.4, ge=0, le=1)


class NotesConfig(Strict):
    lag_days: int = Field(default=21, ge=0, description="how far behind the health a CSM's read is")
    wrong_share: float = Field(
        default=0.3, ge=0, le=1, description="notes with a random sentiment (a CSM's read "
        "is often wrong)"
    )
    red_below: float = Field(default=0.33, ge=0, le=1)
    green_above: float = Field(default=0.55, ge=0, le=1)


class NoiseConfig(Strict):
    """Data-quality noise in usage_events: lost days, duplicates, late-arriving rows."""

    missing_day_share: float = Field(default=0.005, ge=0, le=1)
    duplicate_share: float = Field(default=0.002, ge=0, le=1)
    late_share: float = Field(default=0.005, ge=0, le=1)


class DriftConfig(Strict):
    """A product change from one day on (off unless `from_date` is set), for monitoring.

    From `from_date`, the users of a `share` of the accounts (drawn from the seed alone, so
    the rest of the base is byte-identical to a run without it) log in at `usage_factor`
    times their rate and spend that fraction of the session minutes, as when a redesign
    moves work elsewhere or an analytics change records fewer events. Active users, minutes
    and key-feature use all fall; health, and so the true churn risk, does not. The inputs
    shift and their relation to churn changes: a model trained before it reads the drop as
    risk until it is retrained on data from after it.
    """

    from_date: dt.date | None = None
    share: float = Field(default=0.5, ge=0, le=1, description="share of accounts it reaches")
    usage_factor: float = Field(default=0.4, gt=0, le=1, description="logins and session "
                                "minutes after it, relative to before")

    def reached(self, seed: int, n_accounts: int) -> np.ndarray:
        """Whether each account is reached (all False when there is no drift)."""
        if self.from_date is None:
            return np.zeros(n_accounts, dtype=bool)
        return np.random.default_rng([seed, 0xD21F7]).random(n_accounts) < self.share


class SimulationConfig(Strict):
    """Everything that determines a simulated dataset; the same config gives the same bytes."""

    n_accounts: int = Field(default=1000, ge=1)
    start: dt.date = dt.date(2023, 1, 1)
    end: dt.date = Field(default=dt.date(2025, 12, 31), description="last day covered (inclusive)")
    seed: int = Field(default=0, ge=0)
    initial_share: float = Field(
        default=0.6, ge=0, le=1, description="accounts already customers at start"
    )
    initial_tenure_days: float = Field(default=700.0, gt=0, description="mean tenure before start")
    chunk_size: int = Field(
        default=500, ge=1, description="accounts per write; affects row groups only"
    )
    segments: SegmentsConfig = Field(default_factory=SegmentsConfig)
    health: HealthConfig = Field(default_factory=HealthConfig)
    shocks: ShocksConfig = Field(default_factory=ShocksConfig)
    renewal: RenewalConfig = Field(default_factory=RenewalConfig)
    expansion: ExpansionConfig = Field(default_factory=ExpansionConfig)
    usage: UsageConfig = Field(default_factory=UsageConfig)
    support: SupportConfig = Field(default_factory=SupportConfig)
    surveys: SurveyConfig = Field(default_factory=SurveyConfig)
    notes: NotesConfig = Field(default_factory=NotesConfig)
    noise: NoiseConfig = Field(default_factory=NoiseConfig)
    fingerprints: FingerprintsConfig = Field(default_factory=FingerprintsConfig)
    drift: DriftConfig = Field(default_factory=DriftConfig)

    @model_validator(mode="after")
    def _check_period(self) -> Self:
        if (self.end - self.start).days < 90:
            raise ValueError("end must be at least 90 days after start")
        drift = self.drift.from_date
        if drift is not None and not self.start < drift <= self.end:
            raise ValueError(f"the drift date {drift} must lie after the start and no later "
                             f"than the end")
        return self

    @property
    def n_days(self) -> int:
        """Days covered, both ends included."""
        return (self.end - self.start).days + 1
