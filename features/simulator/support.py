"""Support tickets of one account: volume, priority, escalation and speed follow health.

Daily ticket counts are Poisson with a rate that grows with seats (square root), with
poor health and, sharply, during a support crisis (an incident). Severity
``(1 - health) + crisis`` shifts priority towards high/urgent, raises escalation odds
and slows resolution; ticket CSAT falls with slow resolution, escalation and poor health.
Tickets still open at the end of the window have no ``closed_at``.
"""

from __future__ import annotations

import numpy as np

from features.simulator.dynamics import AccountDynamics, World
from features.simulator.events import SHOCK_TYPES, TICKET_CATEGORIES
from features.simulator.population import business_seconds
from features.simulator.records import TicketRecords
from features.simulator.timeline import US_PER_SECOND

_CRISIS = SHOCK_TYPES.index("support_crisis")
_CATEGORY_WEIGHTS = np.array([0.28, 0.2, 0.08, 0.12, 0.08, 0.03, 0.11, 0.1])
_CRISIS_CATEGORIES = np.array([c in ("bug", "outage", "performance") for c in TICKET_CATEGORIES])
_SEGMENT_RESPONSE = (1.3, 1.0, 0.7)  # enterprise SLAs answer faster
_PRIORITY_SHIFT = np.array([-1.0, 0.0, 1.0, 2.0])
REFERENCE_SEATS = 20.0


def _gumbel_choice(rng: np.random.Generator, logits: np.ndarray) -> np.ndarray:
    """Row-wise categorical draws from unnormalised log-weights (Gumbel-max trick)."""
    return np.argmax(logits + rng.gumbel(size=logits.shape), axis=1).astype(np.int8)


def simulate_tickets(
    rng: np.random.Generator, world: World, dyn: AccountDynamics, seats: np.ndarray
) -> TicketRecords:
    n = dyn.n_active_days
    if n == 0:
        return TicketRecords.empty()
    config, sc = world.config, world.config.support
    seg = config.segments.ordered()[dyn.segment]
    days = dyn.first_day + np.arange(n)
    score = dyn.health.channel("support")[:n]

    crisis = np.zeros(n)
    for shock in dyn.health.shocks:
        if shock.kind == _CRISIS:
            lo = shock.day - dyn.first_day
            crisis[max(lo, 0) : max(lo + config.shocks.crisis_days, 0)] = 1.0
    weekday = world.timeline.day_factor[dyn.region, days]
    rate = (
        seg.tickets_per_year / 365.0 * np.sqrt(seats / REFERENCE_SEATS)
        * (0.4 + 2.5 * (1.0 - score) ** 2)
        * (1.0 + (config.shocks.crisis_ticket_multiplier - 1.0) * crisis)
        * weekday / np.mean(world.timeline.day_factor[dyn.region])
    )  # fmt: skip
    per_day = rng.poisson(rate)
    d = np.repeat(np.arange(n), per_day)
    m = len(d)
    if m == 0:
        return TicketRecords.empty()
    severity = 1.5 * (0.5 - score[d]) + 1.5 * crisis[d]  # < 0 for healthy accounts

    prio_logits = np.log(sc.priority_weights)[None, :] + severity[:, None] * _PRIORITY_SHIFT
    priority = _gumbel_choice(rng, prio_logits)
    cat_logits = np.log(_CATEGORY_WEIGHTS)[None, :] + 1.6 * crisis[d][:, None] * _CRISIS_CATEGORIES
    category = _gumbel_choice(rng, cat_logits)
    esc_logit = sc.escalation_base + 0.8 * priority + 2.0 * (0.5 - score[d]) + 1.5 * crisis[d]
    escalated = rng.random(m) < 1.0 / (1.0 + np.exp(-esc_logit))

    frt_median = np.asarray(sc.first_response_minutes)[priority] * (1 + 1.5 * crisis[d])
    frt = rng.lognormal(np.log(frt_median * _SEGMENT_RESPONSE[dyn.segment]), 0.6)
    res_median = (
        np.asarray(sc.resolution_hours)[priority] * (1 + 2 * crisis[d])
        * (1 + 1.5 * (1 - score[d])) * np.where(escalated, 1.5, 1.0)
    )  # fmt: skip
    res_hours = rng.lognormal(np.log(res_median), 0.8)

    opened = world.timeline.day_us(days[d]) + business_seconds(rng, dyn.region, m) * US_PER_SECOND
    elapsed_s = np.ceil((frt + 1.0 + res_hours * 60.0) * 60.0).astype(np.int64)
    closed = opened + elapsed_s * US_PER_SECOND
    window_end = int(world.timeline.day_us(world.timeline.last_day + 1))
    closed = np.where(closed < window_end, closed, -1)

    mean_csat = 4.5 - 0.5 * np.log2(res_hours / 24 + 1) - 0.8 * escalated - 1.5 * (1 - score[d])
    csat = np.clip(np.round(rng.normal(mean_csat, 0.9)), 1, 5)
    rated = (closed >= 0) & (rng.random(m) < sc.csat_share)

    order = np.argsort(opened, kind="stable")
    return TicketRecords(
        account=np.full(m, dyn.index, dtype=np.int32),
        number=np.arange(1, m + 1, dtype=np.int32),
        opened=opened[order],
        closed=closed[order],
        priority=priority[order],
        category=category[order],
        csat=np.where(rated, csat, np.nan)[order],
        escalated=escalated[order],
        first_response=np.round(frt, 1)[order],
    )
