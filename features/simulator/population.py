"""The account population: who the customers are, when they joined, who owns them.

Drawn once for the whole run from a population-level random stream (cheap: one row per
account), so CSM books can be balanced across all accounts. Everything that happens to
an account afterwards uses that account's own streams (`account_streams`), which is what
makes the output independent of the chunk size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from features.simulator.config import SimulationConfig
from features.simulator.events import REGIONS, SEGMENTS
from features.simulator.names import INDUSTRIES, INDUSTRY_WEIGHTS, company_names, person_names
from features.simulator.timeline import REGION_HOUR_UTC, US_PER_SECOND, Timeline

REGION_WEIGHTS = (0.45, 0.3, 0.15, 0.1)
_POPULATION_STREAM = 0
_ACCOUNT_STREAM = 1
MIN_INITIAL_TENURE_DAYS = 30
SIGNUP_MARGIN_DAYS = 45  # sign-ups stop this many days before the end


@dataclass(frozen=True)
class Population:
    """One entry per account, in account-id order (oldest account first)."""

    account_id: list[str]
    name: list[str]
    segment: npt.NDArray[np.int8]  # index into events.SEGMENTS
    region: npt.NDArray[np.int8]  # index into events.REGIONS
    industry: list[str]
    csm_owner: list[str]
    created_day: npt.NDArray[np.int64]  # day index; negative for existing customers
    created_us: npt.NDArray[np.int64]  # created_at, epoch microseconds UTC
    initial: npt.NDArray[np.bool_]  # already a customer at the start of the window

    def __len__(self) -> int:
        return len(self.account_id)


@dataclass(frozen=True)
class AccountStreams:
    """Independent random streams of one account, so one mechanism's draws never shift
    another's: ``dynamics`` drives health and contracts (the truth), ``signals`` the
    observable tables."""

    dynamics: np.random.Generator
    signals: np.random.Generator


def account_streams(seed: int, index: int) -> AccountStreams:
    """The streams of account number ``index`` (0-based), independent of chunking."""
    dynamics, signals = np.random.SeedSequence(seed, spawn_key=(_ACCOUNT_STREAM, index)).spawn(2)
    return AccountStreams(np.random.default_rng(dynamics), np.random.default_rng(signals))


def business_seconds(
    rng: np.random.Generator, region: npt.NDArray[np.int8] | int, size: int, spread_h: float = 2.5
) -> npt.NDArray[np.int64]:
    """Seconds after midnight UTC around the region's business hours, within the day."""
    centre = np.asarray([REGION_HOUR_UTC[r] for r in REGIONS])[region]
    hours = rng.normal(centre, spread_h, size=size) % 24.0
    return np.minimum((hours * 3600).astype(np.int64), 86_399)


def build_population(config: SimulationConfig, timeline: Timeline) -> Population:
    """Draw segments, firmographics, sign-up dates and CSM owners for all accounts."""
    rng = np.random.default_rng(
        np.random.SeedSequence(config.seed, spawn_key=(_POPULATION_STREAM,))
    )
    n = config.n_accounts
    seg_cfgs = config.segments.ordered()
    segment = rng.choice(len(SEGMENTS), size=n, p=[s.share for s in seg_cfgs]).astype(np.int8)
    region = rng.choice(len(REGIONS), size=n, p=REGION_WEIGHTS).astype(np.int8)
    industry_idx = rng.choice(len(INDUSTRIES), size=n, p=INDUSTRY_WEIGHTS)

    initial = rng.random(n) < config.initial_share
    tenure = MIN_INITIAL_TENURE_DAYS + rng.exponential(config.initial_tenure_days, size=n)
    latest_signup = max(timeline.last_day - SIGNUP_MARGIN_DAYS, 0)
    signup_day = rng.integers(0, latest_signup + 1, size=n)
    created_day = np.where(initial, -np.minimum(tenure, 8 * 365).astype(np.int64), signup_day)
    created_us = timeline.day_us(created_day) + business_seconds(rng, region, n) * US_PER_SECOND

    order = np.argsort(created_us, kind="stable")  # ids follow sign-up order
    segment, region, industry_idx = segment[order], region[order], industry_idx[order]
    created_day, created_us, initial = created_day[order], created_us[order], initial[order]

    width = max(5, len(str(n)))
    owners = _assign_csms(rng, config, segment)
    return Population(
        account_id=[f"A{i + 1:0{width}d}" for i in range(n)],
        name=company_names(rng, n),
        segment=segment,
        region=region,
        industry=[INDUSTRIES[i] for i in industry_idx],
        csm_owner=owners,
        created_day=created_day.astype(np.int64),
        created_us=created_us.astype(np.int64),
        initial=initial,
    )


def _assign_csms(
    rng: np.random.Generator, config: SimulationConfig, segment: npt.NDArray[np.int8]
) -> list[str]:
    """Each segment gets its own CSM team sized to the segment's book size."""
    seg_cfgs = config.segments.ordered()
    team_sizes = [
        max(1, round(int(np.sum(segment == s)) / cfg.csm_book_size))
        for s, cfg in enumerate(seg_cfgs)
    ]
    names = person_names(rng, sum(team_sizes))
    first = np.cumsum([0, *team_sizes])
    owner_idx = np.empty(len(segment), dtype=np.int64)
    for s, size in enumerate(team_sizes):
        members = np.flatnonzero(segment == s)
        # a shuffled round-robin keeps books even, like a CS ops team would
        owner_idx[members] = first[s] + rng.permutation(len(members)) % size
    return [names[i] for i in owner_idx]
