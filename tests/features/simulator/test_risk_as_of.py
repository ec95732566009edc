"""The risk as of each snapshot date (`features.simulator.risk`) is the decision-time
truth's expectation given the world before as_of, and nothing after it.

Expected values come from a brute-force Monte Carlo written here from the simulator's
documented law (AR(1) drift day by day, Poisson shocks per day, the capped acquisition,
the uniform price increase), not from the module's closed forms and FFT.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.point_in_time.spec import TrainingSetSpec
from features.point_in_time.training_set import build_training_set
from features.simulator import SimulationConfig, simulate, simulate_truth
from features.simulator.config import HealthConfig, ShockConfig, ShocksConfig
from features.simulator.contracts import pending_shocks, renewal_logit
from features.simulator.dynamics import AccountDynamics, World, simulate_dynamics
from features.simulator.events import SHOCK_TYPES
from features.simulator.health import Health, Shock, shock_config, shock_profile
from features.simulator.population import account_streams
from features.simulator.risk import RiskTables, account_risk
from features.simulator.runner import build_world
from features.sources.loading import load_sources

ONBOARDING, ACQUIRED = SHOCK_TYPES.index("poor_onboarding"), SHOCK_TYPES.index("acquired")


def _stormy() -> SimulationConfig:
    """Shocks several times as frequent as the default (and an acquisition that also hurts
    health) and a wider drift, so a wrong shock law or drift variance shows in a few rows."""
    base = ShocksConfig()
    faster = {
        name: getattr(base, name).model_copy(
            update={"rate_per_year": getattr(base, name).rate_per_year * 5})
        for name in ("champion_left", "product_fit", "support_crisis", "budget_cut")
    }  # fmt: skip
    shocks = base.model_copy(update={
        **faster,
        "poor_onboarding": base.poor_onboarding.model_copy(update={"rate_per_year": 0.6}),
        "acquired": ShockConfig(rate_per_year=0.4, drop=0.6, churn_probability=0.55,
                                window_days=200),
    })  # fmt: skip
    return SimulationConfig(n_accounts=160, start=dt.date(2023, 1, 1),
                            end=dt.date(2025, 12, 31), seed=4, shocks=shocks,
                            health=HealthConfig(drift_sd=1.2, drift_persistence=0.97))  # fmt: skip


@pytest.fixture(scope="module")
def stormy() -> tuple[World, list[AccountDynamics], RiskTables]:
    config = _stormy()
    world = build_world(config)
    dyns = [simulate_dynamics(world, i, account_streams(config.seed, i).dynamics)
            for i in range(config.n_accounts)]  # fmt: skip
    return world, dyns, RiskTables(config, world.timeline)


def brute_force(world: World, dyn: AccountDynamics, number: int, a: int, samples: int,
                seed: int) -> tuple[float, float]:
    """Mean and standard error of the decision-time ``p`` of term ``number`` over futures
    drawn after day ``a`` (days before ``a`` are the realised world)."""
    rng = np.random.default_rng(seed)
    config, health = world.config, dyn.health
    first, n_days = health.first_day, config.n_days
    terms = dyn.contracts.terms
    k = next(i for i, t in enumerate(terms) if t.number == number)
    consumed: set[int] = set()
    for earlier in terms[:k]:
        consumed.update(pending_shocks(config, health, consumed, earlier.end_day))
    e = terms[k].end_day
    lo = max(e - config.renewal.health_window_days, first)
    days = np.arange(a, e)

    hc = config.health
    phi, sd = hc.drift_persistence, hc.drift_sd
    drift = (np.full(samples, health.drift[a - 1 - first]) if a > first
             else rng.normal(0.0, sd, samples))  # fmt: skip
    z = np.empty((samples, len(days)))
    for j in range(len(days)):
        drift = phi * drift + rng.normal(0.0, sd * math.sqrt(1 - phi**2), samples)
        z[:, j] = drift
    z += health.baseline
    keep = np.ones(samples)

    def hit(kind: int, day: int, rows: np.ndarray, count: np.ndarray | int = 1) -> None:
        cfg = shock_config(config, kind)
        j = day - a
        if j >= 0:
            z[rows, j:] += np.outer(count, shock_profile(cfg, len(days) - j))
        if cfg.churn_probability > 0 and 0 < e - day <= cfg.window_days:
            keep[rows] *= (1 - cfg.churn_probability) ** np.asarray(count)

    for i, shock in enumerate(health.shocks):  # the realised past
        if shock.day < a:
            cfg = shock_config(config, shock.kind)
            z += shock_profile(cfg, e - shock.day)[a - shock.day:][None, :]
            if i in pending_shocks(config, health, consumed, e):
                keep *= 1 - cfg.churn_probability
    for kind, name in enumerate(SHOCK_TYPES):  # Poisson shocks on each future day
        if name in ("poor_onboarding", "acquired"):
            continue
        counts = rng.poisson(shock_config(config, kind).rate_per_year / 365.25,
                             (samples, len(days)))  # fmt: skip
        for row, j in zip(*np.nonzero(counts), strict=True):
            hit(kind, a + int(j), np.array([row]), counts[row, j])
    if not any(s.kind == ACQUIRED and s.day < a for s in health.shocks):
        # the simulator's law (a Poisson count capped at one, on a uniform day), given
        # none before as_of: rejection sampling
        total = shock_config(config, ACQUIRED).rate_per_year * (n_days - first) / 365.25
        day = np.full(samples, -1)
        todo = np.arange(samples)
        while len(todo):
            happens = rng.random(len(todo)) < -math.expm1(-total)
            when = rng.integers(first, n_days, len(todo))
            ok = ~happens | (when >= a)
            day[todo[ok]] = np.where(happens[ok], when[ok], -1)
            todo = todo[~ok]
        for d in np.unique(day[(day >= a) & (day < e)]):
            hit(ACQUIRED, int(d), np.flatnonzero(day == d))
    if a == first and not world.population.initial[dyn.index]:
        share = shock_config(config, ONBOARDING).rate_per_year
        hit(ONBOARDING, a, np.flatnonzero(rng.random(samples) < share))

    past = health.z[lo - first: a - first].sum() if a > lo else 0.0
    z_bar = (past + z[:, max(lo, a) - a:].sum(axis=1)) / (e - lo)
    f = dyn.contracts.setup.months / 12
    u0, u1 = rng.random((2, samples))
    uplift = np.where(u1 < f, config.expansion.price_uplift_max * u0 * max(f, 1.0), 0.0)
    seg = config.segments.ordered()[dyn.segment]
    base = (renewal_logit(config, seg, dyn.contracts.setup, dyn.created_day, e, 0.0, f)
            + config.renewal.price_coef * uplift / max(f, 1.0))  # fmt: skip
    p_year = 1 / (1 + np.exp(-(base - config.renewal.health_coef * z_bar)))
    p = 1 - (1 - p_year) ** min(f, 1.0) * keep
    return float(p.mean()), float(p.std() / math.sqrt(samples))


def _pick(world: World, dyns: list[AccountDynamics], tables: RiskTables
          ) -> dict[str, tuple[AccountDynamics, int, int, float]]:
    """One row of each hard case: (account, term number, as_of day, p_as_of)."""
    found: dict[str, tuple[AccountDynamics, int, int, float]] = {}
    for dyn in dyns:
        rows = account_risk(tables, world, dyn)
        months = dyn.contracts.setup.months
        ends = {t.number: t.end_day for t in dyn.contracts.terms}
        for number, a, p in zip(rows.term_number, rows.as_of_day, rows.p_churn, strict=True):
            if math.isnan(p):
                continue
            a, number = int(a), int(number)
            horizon = ends[number] - a
            past = [s for s in dyn.health.shocks if s.day < a]
            cases = {
                "long horizon after shocks": months == 12 and horizon > 250 and len(past) >= 2,
                "window partly seen": months == 12 and 20 < horizon < 60,
                "drifted far, renewal near": 20 < horizon < 120 and a > dyn.health.first_day
                and abs(dyn.health.drift[a - 1 - dyn.health.first_day]) > 2.0,
                "first day of a new account": a == dyn.health.first_day
                and not world.population.initial[dyn.index],
                "monthly term": months == 1 and bool(past),
                "known unforeseeable shock": any(
                    s.kind in (ACQUIRED, SHOCK_TYPES.index("budget_cut"))
                    and 0 < ends[number] - s.day <= 200 for s in past),
                "beyond the shocks' churn window": months >= 24 and horizon > 400,
            }
            for name, hit in cases.items():
                if hit and name not in found:
                    found[name] = (dyn, number, a, float(p))
    return found


def test_as_of_risk_equals_a_brute_force_monte_carlo(stormy):
    world, dyns, tables = stormy
    cases = _pick(world, dyns, tables)
    assert len(cases) == 7, sorted(cases)
    misses = []
    for seed, (name, (dyn, number, a, p)) in enumerate(sorted(cases.items())):
        mean, se = brute_force(world, dyn, number, a, samples=20_000, seed=seed)
        # 4 standard errors of the Monte Carlo, plus the grid's rounding of shock sizes
        if abs(p - mean) > 4 * se + 0.002:
            misses.append(f"{name}: as-of {p:.4f}, Monte Carlo {mean:.4f} ± {se:.4f}")
    assert not misses, misses


def _rewrite_future(health: Health, a: int, config: SimulationConfig) -> Health:
    """The same health before day ``a``, a different one from ``a`` on: other drift, the
    realised future shocks gone, new ones (one of each kind) in their place."""
    cut = a - health.first_day
    n = len(health.z)
    rng = np.random.default_rng(99)
    drift = health.drift.copy()
    drift[cut:] = rng.normal(0.0, 2.0, n - cut).cumsum() / 5
    shocks = [s for s in health.shocks if s.day < a]
    shocks += [Shock(a + 3 * kind + 1, kind) for kind in range(len(SHOCK_TYPES))
               if a + 3 * kind + 1 < health.first_day + n]  # fmt: skip
    offsets = np.zeros_like(health.offsets)
    for s in shocks:
        onset = s.day - health.first_day
        offsets[s.kind, onset:] += shock_profile(shock_config(config, s.kind), n - onset)
    z = health.baseline + drift + offsets.sum(axis=0)
    return Health(first_day=health.first_day, z=z, offsets=offsets,
                  shocks=tuple(sorted(shocks, key=lambda s: (s.day, s.kind))),
                  baseline=health.baseline, drift=drift)  # fmt: skip


def test_as_of_risk_never_reads_the_world_after_as_of(stormy):
    world, dyns, tables = stormy
    checked = 0
    for dyn in dyns[:60]:
        rows = account_risk(tables, world, dyn)
        decided = rows.as_of_day[~np.isnan(rows.p_churn)]
        if len(decided) < 4:
            continue
        a = int(decided[len(decided) // 2])
        other = dataclasses.replace(dyn, health=_rewrite_future(dyn.health, a, world.config))
        assert not np.allclose(other.health.z, dyn.health.z)
        again = account_risk(tables, world, other)
        before = rows.as_of_day <= a
        np.testing.assert_array_equal(again.as_of_day[before], rows.as_of_day[before])
        np.testing.assert_array_equal(again.p_churn[before], rows.p_churn[before])
        checked += 1
    assert checked >= 20


def test_as_of_risk_is_the_expected_decision_time_truth():
    """Averaged over many terms, p_as_of equals the decision-time p and the churn rate, at
    every horizon (it is an expectation of p given the past: neither optimistic nor
    pessimistic, and closer to p the nearer the renewal)."""
    truth = simulate_truth(SimulationConfig(n_accounts=1500, seed=8))
    assert truth.risk_as_of is not None
    terms = truth.terms.to_pandas()
    rows = truth.risk_as_of.to_pandas().merge(
        terms[["subscription_id", "end_date", "p_churn", "churned"]], on="subscription_id")
    rows = rows[rows["p_churn"].notna()]
    assert rows["p_churn_as_of"].notna().all()
    rows["months"] = (rows["end_date"] - rows["as_of"]).dt.days // 30.44
    gaps = []
    for lead, months in ((1, (0, 1)), (2, (2, 5)), (3, (6, 11))):
        part = rows[rows["months"].between(*months)]
        # one row per term: rows of a term share its outcome and are not independent
        part = part.groupby("subscription_id").head(1)
        diff = part["p_churn"] - part["p_churn_as_of"]
        se = diff.std() / math.sqrt(len(diff))
        assert len(part) > 400, (lead, len(part))
        assert abs(diff.mean()) < 4 * se + 0.002, (months, diff.mean(), se)
        gaps.append(float((diff**2).mean()))
    assert gaps[0] < gaps[1] < gaps[2]


def test_truth_is_written_for_every_labelled_snapshot(tmp_path: Path):
    config = SimulationConfig(n_accounts=150, start=dt.date(2023, 1, 1),
                              end=dt.date(2025, 6, 30), seed=3)  # fmt: skip
    simulate(config, tmp_path / "sim")
    frame = build_training_set(load_sources(tmp_path / "sim"), TrainingSetSpec())
    as_of = pd.read_parquet(tmp_path / "sim" / "_truth" / "risk_as_of.parquet")
    assert not as_of.duplicated(["subscription_id", "as_of"]).any()
    rows = frame.merge(as_of, on=["subscription_id", "account_id", "as_of"], how="left",
                       validate="one_to_one")  # fmt: skip
    labelled = rows[rows["churned"].notna()]
    assert len(labelled) > 1000
    assert labelled["p_churn_as_of"].between(0, 1).all()
    # every spine row of the monthly grid has its truth row (unlabelled ones too)
    keys = set(zip(as_of["subscription_id"], as_of["as_of"], strict=True))
    assert all(k in keys for k in zip(frame["subscription_id"], frame["as_of"], strict=True))
