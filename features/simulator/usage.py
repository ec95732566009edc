"""Daily product usage of one account, driven by hidden health with noise.

Each licensed seat has a fixed engagement rank; on a given day the seats ranked below
the health-driven engaged share (onboarding ramps it up after sign-up) log in with
probability ``login_rate * weekday/holiday factor * (0.5 + 0.5 * health) * propensity``,
the others are nearly dormant. So licence utilisation and daily activity both follow
health: the share of engaged seats and the key features read the adoption facet of it,
login odds and minutes the engagement facet (`events.FACETS`). It is one days x seats
Bernoulli matrix per account, never a per-user loop.
From the logins follow the daily session minutes and, for each adopted key feature, a
daily count proportional to active users. Feature adoption is spread over onboarding
(slower after poor onboarding) and some accounts never adopt some features.
On top of health, shocks leave their own traces (`fingerprints`): each account has a
power user who logs in far more than the rest and whom a departing champion takes away,
a fit problem wears down the main workflow features, poor onboarding activates seats
slowly and a budget cut switches users off. A configured product change
(`config.DriftConfig`) cuts the logins and minutes of the accounts it reaches from its day on.
Daily aggregates are stamped at midnight UTC of their day, logins at the first session.
"""

from __future__ import annotations

import numpy as np

from features.simulator.dynamics import AccountDynamics, World
from features.simulator.events import (
    EVENT_TYPES,
    KEY_FEATURES,
    LOGIN,
    SESSION_MINUTES,
)
from features.simulator.fingerprints import (
    POOR_ONBOARDING,
    Seats,
    budget_cuts,
    champion_departures,
    onboarding_ramp,
    power_user,
    workflow_decline,
)
from features.simulator.population import business_seconds
from features.simulator.records import UsageRecords
from features.simulator.timeline import US_PER_SECOND

_LOGIN = EVENT_TYPES.index(LOGIN)
_MINUTES = EVENT_TYPES.index(SESSION_MINUTES)
_FEATURE_CODES = np.array([EVENT_TYPES.index(f) for f in KEY_FEATURES], dtype=np.int8)
MAX_LOGIN_PROBABILITY = 0.97


def simulate_usage(
    rng: np.random.Generator, world: World, dyn: AccountDynamics, seats: np.ndarray
) -> UsageRecords:
    """All usage rows of one account, in time order (noise is applied afterwards)."""
    n = dyn.n_active_days
    if n == 0:
        return UsageRecords.empty()
    config, uc = world.config, world.config.usage
    seg = config.segments.ordered()[dyn.segment]
    days = dyn.first_day + np.arange(n)
    score = dyn.health.channel("engagement")[:n]  # how much the active team works
    spread = dyn.health.channel("adoption")[:n]  # how far the product has spread
    new_signup = not bool(world.population.initial[dyn.index])

    # --- logins: a days x users Bernoulli matrix ---
    # Each seat has a fixed engagement rank; on a day, the seats ranked below the
    # health-driven engaged share use the product, the rest are (nearly) dormant. So
    # licence utilisation follows health, and so does daily activity. Shocks then leave
    # their own traces on the matrix (`fingerprints`).
    fc = config.fingerprints
    n_users = int(seats.max())
    a, b = uc.user_propensity
    users = Seats(
        propensity=rng.beta(a, b, size=n_users) * (a + b) / a,  # mean 1
        rank=rng.random(n_users),
        licensed=np.arange(n_users)[None, :] < seats[:, None],
        ramp=np.ones((n, n_users)),
    )
    champion = power_user(users, fc)
    shocks = dyn.health.shocks
    users = champion_departures(rng, users, shocks, dyn.first_day, champion, fc)
    budget_cuts(rng, users, shocks, dyn.first_day, champion, fc)
    poor = any(s.kind == POOR_ONBOARDING for s in shocks)
    ramp = np.ones(n)
    if new_signup:
        ramp = onboarding_ramp(n, uc.onboarding_days, poor, fc)
    engaged_share = (uc.health_floor + (1 - uc.health_floor) * spread) * ramp
    engaged = users.rank[None, :] < engaged_share[:, None]
    p_day = seg.login_rate * world.timeline.day_factor[dyn.region, days] * (0.5 + 0.5 * score)
    p = np.minimum(p_day[:, None] * users.propensity[None, :] * users.ramp,
                   MAX_LOGIN_PROBABILITY)
    p = np.where(engaged, p, p * uc.dormant_factor)
    active = (rng.random(p.shape) < p) & users.licensed
    d_login, u_login = np.nonzero(active)
    boost = np.where(u_login == champion, fc.power_user_boost, 1.0)
    sessions = 1 + rng.poisson(uc.extra_sessions * boost * (0.5 + score[d_login]))
    login_ts = world.timeline.day_us(days[d_login]) + (
        business_seconds(rng, dyn.region, len(d_login)) * US_PER_SECOND
    )

    # --- session minutes per day ---
    mean_minutes = uc.minutes_per_session * (0.6 + 0.8 * score[d_login])
    minutes = rng.gamma(2.0, mean_minutes / 2.0) * sessions
    day_minutes = np.bincount(d_login, weights=minutes, minlength=n)
    d_minutes = np.flatnonzero(day_minutes > 0)

    # --- key features: adoption over onboarding, daily counts per active user ---
    rates = np.array([uc.feature_rates[f] for f in KEY_FEATURES])
    mean_days = np.array([uc.adoption_days[f] for f in KEY_FEATURES])
    never = np.array([uc.never_adopt[f] for f in KEY_FEATURES])
    slowdown = config.shocks.onboarding_adoption_slowdown if poor else 1.0
    fit = float(spread[: min(n, 90)].mean())
    never_p = np.clip(never * (1.5 - fit), 0.0, 1.0)
    adopted = rng.random(len(KEY_FEATURES)) >= never_p
    adopt_day = dyn.created_day + rng.exponential(mean_days * slowdown)
    active_users = np.bincount(d_login, minlength=n).astype(np.float64)
    lam = active_users[:, None] * rates[None, :] * (0.3 + spread[:, None] ** 2)
    lam *= workflow_decline(dyn.health, dyn.first_day, n, adopted, rates, fc)
    lam *= adopted[None, :] & (days[:, None] >= adopt_day[None, :])
    counts = rng.poisson(lam)
    d_feat, f_feat = np.nonzero(counts)

    account = np.int32(dyn.index)
    parts = [
        UsageRecords(
            account=np.full(len(d_login), account, dtype=np.int32),
            ts=login_ts,
            event=np.full(len(d_login), _LOGIN, dtype=np.int8),
            user=u_login.astype(np.int32),
            quantity=sessions.astype(np.float64),
        ),
        UsageRecords(
            account=np.full(len(d_minutes), account, dtype=np.int32),
            ts=world.timeline.day_us(days[d_minutes]),
            event=np.full(len(d_minutes), _MINUTES, dtype=np.int8),
            user=np.full(len(d_minutes), -1, dtype=np.int32),
            quantity=np.round(day_minutes[d_minutes], 1),
        ),
        UsageRecords(
            account=np.full(len(d_feat), account, dtype=np.int32),
            ts=world.timeline.day_us(days[d_feat]),
            event=_FEATURE_CODES[f_feat],
            user=np.full(len(d_feat), -1, dtype=np.int32),
            quantity=counts[d_feat, f_feat].astype(np.float64),
        ),
    ]
    records = UsageRecords.concat(parts)
    order = np.lexsort((records.user, records.event, records.ts))
    return records.take(order)


def after_product_change(world: World, dyn: AccountDynamics, records: UsageRecords
                         ) -> UsageRecords:
    """The account's usage with the configured product change applied (`DriftConfig`).

    For an account it reaches, from its day on each login is kept with probability
    `usage_factor`, session minutes are scaled by it and key-feature counts thinned by it.
    It is applied to the finished records (noise included), drawing from its own
    generator, so the account's records before the change are exactly those of a base
    without it.
    """
    drift = world.config.drift
    if world.drift_reached is None or not world.drift_reached[dyn.index]:
        return records
    assert drift.from_date is not None  # only then is any account reached
    factor = drift.usage_factor
    rng = np.random.default_rng([world.config.seed, 0xD21F7, dyn.index])
    after = records.ts >= world.timeline.day_us_int((drift.from_date - world.config.start).days)
    quantity = records.quantity.copy()
    keep = np.ones(len(records.ts), dtype=bool)
    logins = after & (records.event == _LOGIN)
    keep[logins] = rng.random(int(logins.sum())) < factor
    minutes = after & (records.event == _MINUTES)
    quantity[minutes] = np.round(quantity[minutes] * factor, 1)
    features = after & np.isin(records.event, _FEATURE_CODES)
    quantity[features] = rng.binomial(quantity[features].astype(np.int64), factor)
    keep &= quantity > 0
    changed = UsageRecords(records.account, records.ts, records.event, records.user, quantity)
    return changed.take(np.flatnonzero(keep))
