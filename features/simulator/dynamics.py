"""The hidden side of one account: its contract setup, health process and terms.

This is everything the truth files need and nothing the signals add, so truth-only runs
(`simulate_truth`) are cheap and identical to the truth of a full run: both draw from
the account's ``dynamics`` stream in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.simulator.config import SimulationConfig
from features.simulator.contracts import Contracts, draw_setup, run_terms
from features.simulator.health import Health, simulate_health
from features.simulator.population import Population
from features.simulator.timeline import Timeline


@dataclass(frozen=True)
class World:
    """Shared, read-only inputs of every account simulation."""

    config: SimulationConfig
    timeline: Timeline
    population: Population
    # Which accounts the configured product change reaches (`config.drift`); none by default.
    drift_reached: np.ndarray | None = None


@dataclass(frozen=True)
class AccountDynamics:
    index: int
    segment: int
    region: int
    created_day: int
    first_day: int  # first day with records: first subscription start, or day 0
    health: Health
    contracts: Contracts

    @property
    def last_active_day(self) -> int:
        """Exclusive end of the account's records (churn date or the end of the window)."""
        return self.contracts.last_active_day

    @property
    def n_active_days(self) -> int:
        return max(self.last_active_day - self.first_day, 0)


def simulate_dynamics(world: World, index: int, rng: np.random.Generator) -> AccountDynamics:
    pop, config, timeline = world.population, world.config, world.timeline
    segment = int(pop.segment[index])
    created_day = int(pop.created_day[index])
    initial = bool(pop.initial[index])
    seg = config.segments.ordered()[segment]
    setup = draw_setup(rng, seg, timeline, created_day, initial)
    first_day = max(timeline.day_index(setup.first_start), 0)
    health = simulate_health(rng, config, segment, first_day, new_signup=not initial)
    contracts = run_terms(rng, config, timeline, segment, created_day, setup, health)
    return AccountDynamics(
        index=index,
        segment=segment,
        region=int(pop.region[index]),
        created_day=created_day,
        first_day=first_day,
        health=health,
        contracts=contracts,
    )
