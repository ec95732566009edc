"""Subscription terms of one account and the renewal decision at the end of each term.

One row per term: a renewal is a new term starting at the previous end (on time) or
within its grace after it (late renewal; `sources.contract.renewal_grace_days`: a
quarter of the term, 7 to ``grace_days`` days). Each decision draws non-renewal with

    p_health = 1 - (1 - sigmoid(logit_year)) ** (min(months, 12) / 12)
    p        = 1 - (1 - p_health) * prod(1 - q_shock)

where ``logit_year`` is the annual churn logit (see `RenewalConfig`) and ``q_shock`` is
the chance that a shock with a churn chance of its own since the previous decision ends
the relationship: the unforeseeable ones (budget cut, acquisition), and a champion's
departure, whose successor often re-opens the buying decision. ``p`` is what
`_truth/terms.parquet` reports, and the mechanism explaining most of it is the term's
``cause``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from features.simulator.config import SegmentConfig, SimulationConfig
from features.simulator.events import SHOCK_TYPES
from features.simulator.health import Health, shock_config
from features.simulator.timeline import Timeline, add_months
from features.sources.contract import renewal_grace_days

PLAN_PRICE_FACTOR = {"starter": 0.85, "growth": 1.0, "enterprise": 1.15}
MONTHLY_AUTO_RENEW = 0.95  # card-billed monthly plans renew themselves
MAX_SIGNUP_LAG_DAYS = 14
K = TypeVar("K")


@dataclass(frozen=True)
class ContractSetup:
    """What the account bought first; drawn before the health process."""

    months: int
    seats: int
    price_per_seat: float  # USD per seat-month
    plan: str
    auto_renew: bool
    first_start: dt.date
    first_number: int  # number of the first term inside the window (history before it)


@dataclass(frozen=True)
class Term:
    number: int
    start_day: int
    end_day: int
    seats: int
    arr: float
    p_churn: float | None  # None: the decision lies after the window
    churned: bool | None  # None: unresolved (no renewal yet, end + grace after the window)
    cause: str | None
    next_arr: float | None


@dataclass(frozen=True)
class Contracts:
    setup: ContractSetup
    terms: tuple[Term, ...]
    last_active_day: int  # exclusive: the account stops producing records on this day

    def seats_by_day(self, first_day: int) -> npt.NDArray[np.int64]:
        """Licensed seats on days ``first_day .. last_active_day - 1`` (grace gaps keep
        the previous term's seats)."""
        n = max(self.last_active_day - first_day, 0)
        seats = np.zeros(n, dtype=np.int64)
        for term in self.terms:
            seats[max(term.start_day - first_day, 0) :] = term.seats
        return seats


def _pick(rng: np.random.Generator, mix: dict[K, float]) -> K:
    keys = list(mix)
    return keys[int(rng.choice(len(keys), p=list(mix.values())))]


def draw_setup(
    rng: np.random.Generator,
    seg: SegmentConfig,
    timeline: Timeline,
    created_day: int,
    initial: bool,
) -> ContractSetup:
    """The first contract; for existing customers, the term in force at the start."""
    months = _pick(rng, seg.term_months)
    lo, hi = seg.seats
    seats = int(np.exp(rng.uniform(np.log(lo), np.log(hi + 1))))
    plan = _pick(rng, seg.plan_mix)
    price = float(rng.uniform(*seg.price_per_seat)) * PLAN_PRICE_FACTOR[plan]
    share = MONTHLY_AUTO_RENEW if months == 1 else seg.auto_renew_share
    auto_renew = bool(rng.random() < share)
    lag = 1 + min(int(rng.geometric(0.35)) - 1, MAX_SIGNUP_LAG_DAYS - 1)
    start = timeline.date_of(created_day + lag)
    number = 1
    if initial:  # roll history forward, renewing on time, to the term covering day 0
        while timeline.day_index(add_months(start, months)) <= 0:
            start, number = add_months(start, months), number + 1
    return ContractSetup(months, seats, round(price, 2), plan, auto_renew, start, number)


def renewal_logit(
    config: SimulationConfig,
    seg: SegmentConfig,
    setup: ContractSetup,
    created_day: int,
    decision_day: int,
    uplift: float,
    f: float,
) -> float:
    """Annual churn logit of a decision before health: segment, tenure, price, auto-renew.

    ``uplift`` is the list-price increase of a term of ``f`` years. The as-of truth
    (`features.simulator.risk`) calls this with 0 and integrates the price term itself,
    because the increase is drawn at the decision.
    """
    rc = config.renewal
    tenure = (decision_day - created_day) / 365.25
    return (
        seg.churn_intercept
        + rc.tenure_coef * math.exp(-tenure / rc.tenure_scale_years)
        + rc.price_coef * uplift / max(f, 1.0)
        + (rc.auto_renew_coef if setup.auto_renew else 0.0)
    )


def pending_shocks(
    config: SimulationConfig, health: Health, consumed: set[int], decision_day: int
) -> list[int]:
    """Shocks with a churn chance of their own (indices into ``health.shocks``) that act
    on a decision: not acted on by an earlier decision, and at most ``window_days``
    before this one."""
    return [
        i
        for i, shock in enumerate(health.shocks)
        if shock_config(config, shock.kind).churn_probability > 0
        and i not in consumed
        and 0 < decision_day - shock.day <= shock_config(config, shock.kind).window_days
    ]


def _stochastic_round(x: float, u: float) -> int:
    return math.floor(x + u)


def run_terms(
    rng: np.random.Generator,
    config: SimulationConfig,
    timeline: Timeline,
    segment: int,
    created_day: int,
    setup: ContractSetup,
    health: Health,
) -> Contracts:
    """Walk term by term to the end of the window, deciding each renewal."""
    seg = config.segments.ordered()[segment]
    rc, ec = config.renewal, config.expansion
    last = timeline.last_day
    max_terms = timeline.n_days // 28 + 3
    u: list[list[float]] = rng.random((max_terms, 7)).tolist()  # Python floats: fast scalars
    noise: list[float] = rng.standard_normal(max_terms).tolist()
    consumed: set[int] = set()  # unforeseeable shocks already acted on

    terms: list[Term] = []
    start, seats, price = setup.first_start, setup.seats, setup.price_per_seat
    months, number = setup.months, setup.first_number
    for k in range(max_terms):
        s_day = timeline.day_index(start)
        end = add_months(start, months)
        e_day = timeline.day_index(end)
        arr = round(seats * price * 12, 2)
        if e_day > last:
            terms.append(Term(number, s_day, e_day, seats, arr, None, None, None, None))
            return Contracts(setup, tuple(terms), last + 1)

        f = months / 12
        uplift = ec.price_uplift_max * u[k][0] * max(f, 1.0) if u[k][1] < f else 0.0
        z_bar, off = health.window_means(e_day - rc.health_window_days, e_day)
        base_logit = renewal_logit(config, seg, setup, created_day, e_day, uplift, f)

        def p_health(z: float, f: float = f, base_logit: float = base_logit) -> float:
            p_year = 1.0 / (1.0 + math.exp(-(base_logit - rc.health_coef * z)))
            return 1.0 - (1.0 - p_year) ** min(f, 1.0)

        pending = pending_shocks(config, health, consumed, e_day)
        q = {i: shock_config(config, health.shocks[i].kind).churn_probability for i in pending}
        p_h = p_health(z_bar)
        p = 1.0 - (1.0 - p_h) * math.prod(1.0 - v for v in q.values())
        cause = _cause(p, z_bar, off, q, health, p_health, rc.cause_min_share)
        consumed.update(pending)

        churned = bool(u[k][2] < p)
        grace = int(renewal_grace_days(e_day - s_day, rc.grace_days))
        resolved = e_day + grace <= last
        if churned:
            terms.append(Term(number, s_day, e_day, seats, arr, p, True if resolved else None,
                              cause, 0.0 if resolved else None))  # fmt: skip
            return Contracts(setup, tuple(terms), e_day)

        score = 1.0 / (1.0 + math.exp(-z_bar))
        late = not setup.auto_renew and u[k][3] < rc.late_share * 2 * (1 - score)
        next_start = end + dt.timedelta(days=1 + int(u[k][4] * (grace - 1)) if late else 0)
        growth = (ec.seat_growth + ec.health_coef * z_bar) * f + ec.seat_sd * math.sqrt(f) * noise[
            k
        ]
        new_seats = seats * math.exp(growth)
        if any(health.shocks[i].kind == SHOCK_TYPES.index("budget_cut") for i in pending):
            lo, hi = ec.budget_cut_seats
            new_seats *= lo + (hi - lo) * u[k][5]
        new_seats_int = min(max(_stochastic_round(new_seats, u[k][6]), 1), seg.seats[1] * 3)
        new_price = round(price * (1 + uplift), 2)
        next_arr = round(new_seats_int * new_price * 12, 2)
        if timeline.day_index(next_start) > last:  # renewal signed after the window
            terms.append(Term(number, s_day, e_day, seats, arr, p, None, cause, None))
            return Contracts(setup, tuple(terms), last + 1)
        # The next term started inside the window: the renewal is known, even when the
        # grace period runs past the data's end.
        terms.append(Term(number, s_day, e_day, seats, arr, p, False, cause, next_arr))
        start, seats, price, number = next_start, new_seats_int, new_price, number + 1
    raise AssertionError("more terms than days in the window")  # pragma: no cover


def _cause(
    p: float,
    z_bar: float,
    off: npt.NDArray[np.float64],
    q: dict[int, float],
    health: Health,
    p_health: Callable[[float], float],
    min_share: float,
) -> str:
    """The mechanism whose removal would lower ``p`` the most, if it explains enough."""
    best, best_delta = "none", 0.0
    for kind, name in enumerate(SHOCK_TYPES):
        keep = [v for i, v in q.items() if health.shocks[i].kind != kind]
        if off[kind] == 0 and len(keep) == len(q):
            continue  # this mechanism plays no part in this decision
        p_without = 1.0 - (1.0 - p_health(z_bar - off[kind])) * math.prod(1.0 - v for v in keep)
        if p - p_without > best_delta:
            best, best_delta = name, p - p_without
    return best if p > 0 and best_delta >= min_share * p else "none"
