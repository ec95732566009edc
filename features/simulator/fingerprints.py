"""The traces a shock leaves in usage beside its health drop, so causes can be told apart.

A lower latent health dims every signal alike; real accounts show more than that, and
the traces are what a CSM recognises. Each helper here turns one shock kind into a
change of the days x users login matrix or of the key-feature rates:

* champion left: the account's power user (the seat with by far the most sessions) stops
  on the day; a successor gets a new user id some weeks later and ramps up;
* product fit: the account's main workflow features (its most used adopted ones) decline
  towards a floor over months, while logins only follow health;
* poor onboarding: seats activate several times slower after sign-up;
* budget cut: part of the users are switched off from the day of the cut.

`presence` says, per renewal decision, which of these traces were there to be seen: the
truth files carry it, so a benchmark can ask whether reasons name the real cause.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from features.simulator.events import SHOCK_TYPES
from features.simulator.fingerprint_config import FingerprintsConfig
from features.simulator.health import Health, Shock

CHAMPION_LEFT = SHOCK_TYPES.index("champion_left")
PRODUCT_FIT = SHOCK_TYPES.index("product_fit")
POOR_ONBOARDING = SHOCK_TYPES.index("poor_onboarding")
SUPPORT_CRISIS = SHOCK_TYPES.index("support_crisis")
BUDGET_CUT = SHOCK_TYPES.index("budget_cut")
# Shock kinds whose trace can be seen from (first, last) days after their onset: a CSM
# note follows a shock by 2-20 days, a power user's silence needs a week to stand out, a
# workflow's decline a few weeks; then each fades.
VISIBLE_DAYS: dict[int, tuple[int, int]] = {
    CHAMPION_LEFT: (7, 180),
    PRODUCT_FIT: (21, 365),
    POOR_ONBOARDING: (14, 180),
    SUPPORT_CRISIS: (3, 120),
    BUDGET_CUT: (1, 365),
}
BoolMatrix = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]


@dataclass
class Seats:
    """The users of one account as matrix columns: who may log in on which day."""

    propensity: FloatArray  # relative login odds per column
    rank: FloatArray  # engagement rank per column: engaged while below the engaged share
    licensed: BoolMatrix  # days x columns
    ramp: FloatArray  # days x columns: a successor's ramp-up factor (1 otherwise)


def onsets(shocks: tuple[Shock, ...], kind: int, first_day: int, n_days: int) -> list[int]:
    """Day positions (from ``first_day``) of the shocks of one kind inside the account's days."""
    return [s.day - first_day for s in shocks
            if s.kind == kind and 0 <= s.day - first_day < n_days]


def power_user(seats: Seats, fc: FingerprintsConfig) -> int:
    """Make the most engaged licensed seat the account's power user; return its column.

    Real accounts have one champion who uses the product far more than anyone else; it
    is the seat a departure takes away.
    """
    first = np.flatnonzero(seats.licensed.any(axis=0))
    if len(first) == 0:
        return -1
    col = int(first[np.argmin(seats.rank[first])])
    seats.propensity[col] *= fc.power_user_boost
    return col


def champion_departures(
    rng: np.random.Generator, seats: Seats, shocks: tuple[Shock, ...], first_day: int,
    champion: int, fc: FingerprintsConfig,
) -> Seats:
    """Each champion-left shock takes the current champion off; a successor column joins."""
    n_days = seats.licensed.shape[0]
    for t0 in onsets(shocks, CHAMPION_LEFT, first_day, n_days) if champion >= 0 else []:
        slot = seats.licensed[:, champion].copy()
        seats.licensed[t0:, champion] = False
        lo, hi = fc.replacement_days
        start = t0 + int(rng.integers(lo, hi + 1))
        successor = np.zeros((n_days, 1), dtype=bool)
        successor[start:, 0] = slot[start:]
        ramp = np.ones((n_days, 1))
        ramp[:, 0] = np.clip((np.arange(n_days) - start + 1) / fc.replacement_ramp_days, 0, 1)
        seats = Seats(
            propensity=np.append(seats.propensity, seats.propensity[champion]),
            rank=np.append(seats.rank, seats.rank[champion]),
            licensed=np.hstack([seats.licensed, successor]),
            ramp=np.hstack([seats.ramp, ramp]),
        )
        champion = seats.licensed.shape[1] - 1
    return seats


def budget_cuts(
    rng: np.random.Generator, seats: Seats, shocks: tuple[Shock, ...], first_day: int,
    champion: int, fc: FingerprintsConfig,
) -> None:
    """A budget cut switches ``budget_user_cut`` of the users (never the champion) off."""
    for t0 in onsets(shocks, BUDGET_CUT, first_day, seats.licensed.shape[0]):
        others = np.flatnonzero(seats.licensed[t0] & (np.arange(seats.licensed.shape[1])
                                                      != champion))
        cut = rng.random(len(others)) < fc.budget_user_cut
        seats.licensed[t0:, others[cut]] = False


def workflow_decline(
    health: Health, first_day: int, n_days: int, adopted: npt.NDArray[np.bool_],
    rates: FloatArray, fc: FingerprintsConfig,
) -> FloatArray:
    """Days x features factor on the key-feature rates: the workflow a fit problem hits.

    The hit features are the account's ``workflow_features`` most used adopted ones.
    """
    factor = np.ones((n_days, len(rates)))
    used = np.where(adopted, rates, -1.0)
    workflow = np.argsort(-used, kind="stable")[: fc.workflow_features]
    workflow = workflow[adopted[workflow]]
    t = np.arange(n_days, dtype=np.float64)
    for t0 in onsets(health.shocks, PRODUCT_FIT, first_day, n_days):
        after = np.maximum(t - t0, 0.0)
        decline = fc.workflow_floor + (1 - fc.workflow_floor) * np.exp(
            -after / fc.workflow_decline_days)
        factor[:, workflow] *= np.where(t >= t0, decline, 1.0)[:, None]
    return factor


def onboarding_ramp(n_days: int, onboarding_days: int, poor: bool,
                    fc: FingerprintsConfig) -> FloatArray:
    """Share of a new customer's engaged seats that are active yet, day by day."""
    days = onboarding_days * (fc.onboarding_seat_slowdown if poor else 1.0)
    return np.asarray(np.minimum((np.arange(n_days) + 1) / days, 1.0) ** 0.7)


def presence(health: Health, decision_day: int) -> list[str]:
    """Shock kinds whose trace was visible in the signals before a renewal decision.

    A trace counts within its ``VISIBLE_DAYS`` after its onset; poor onboarding counts
    only for a customer's first terms (its onset is the sign-up). Acquisitions leave none.
    """
    kinds = {shock.kind for shock in health.shocks if visible(shock.kind, decision_day - shock.day)}
    return [SHOCK_TYPES[k] for k in sorted(kinds)]


def visible(kind: int, age_days: int) -> bool:
    """Whether a shock's trace can be seen ``age_days`` after its onset."""
    if kind not in VISIBLE_DAYS:
        return False
    first, last = VISIBLE_DAYS[kind]
    return first <= age_days <= last
