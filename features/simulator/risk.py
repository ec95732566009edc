"""The true churn risk of each term as of each snapshot date: the fair oracle.

`_truth/terms.parquet` gives each term's churn probability ``p`` *at the renewal
decision*: it reads the health of the 60 days before renewal and the shocks up to it,
months after a snapshot. No model at ``as_of`` can know those, so an oracle built on it
measures foresight, not skill. This module gives, for every term and every date of the
monthly snapshot grid on which the term is current (``start <= as_of < end``, the
spine's convention), the expectation of that same ``p`` given the hidden world *before*
as_of only:

    p_as_of = E[p | baseline, drift and shocks on days < as_of]

It is the best any model could say at as_of, and it is exact for the simulator's own law
(a martingale: averaged over the futures, it equals the decision-time ``p``). With
``z_bar`` the mean latent health over the decision window ``W`` (see `contracts`),

    1 - p = (1 - p_health(z_bar)) * prod(1 - q_shock),
    z_bar = A + B * G + X

* ``A``: what is fixed at as_of: the realised ``z`` of window days before as_of, the
  baseline, the known shocks' offsets carried into the future days, and the expected AR(1)
  drift (it decays from its last known value towards 0);
* ``B * G``: the future drift's contribution to the window mean, Gaussian with a
  closed-form variance (geometric sums of the AR(1) innovations; when as_of is the
  account's first day, the starting drift is unknown too);
* ``X``: future shocks, each lowering ``z_bar`` by its profile's mean over the window.
  Shocks of each kind arrive as a Poisson process of ``rate_per_year / 365.25`` a day
  (what the simulator's "Poisson count, uniform days" draw is); acquisitions are capped at
  one per account, so given none before as_of their law is the conditional one; poor
  onboarding can only strike on the account's first day. Budget cuts and acquisitions
  also carry their churn chance ``q`` for a decision within ``window_days``.

``prod(1 - q)`` over shocks before as_of is known; for future shocks it rides on ``X`` as
a weight (the expectation of ``(1 - p_health) * prod(1 - q)`` needs their joint law). The
list-price increase is drawn at the decision, so its logit term ``price_coef *
price_uplift_max * U`` (with probability ``min(years, 1)``) is integrated: in closed
form for terms of a year or more, else with 3-point Gauss-Legendre.

The law of ``B * G + X`` is computed exactly, not sampled: on a grid of step
`GRID_STEP` in ``z_bar``, its characteristic function is ``exp(sum lambda * (w *
e^{-i omega x} - 1))`` for the Poisson shocks times the acquisition, onboarding and
Gaussian factors; one inverse FFT gives the (weighted) probability of each grid point,
and ``E[1 - p]`` is its dot product with ``1 - p_health``. A shock's mean offset depends
only on its distance in days to the decision and on the window's length, so the Poisson
exponent of every "shocks on the last m days" is tabulated once per run (`RiskTables`)
and a row only looks one up. Jumps are split linearly between the two nearest grid
points (their mean is exact); the grid (`Grid`, 256 points by default) reaches 7.7
below ``A`` and 5.5 drift standard deviations above it (mass outside it, several severe
shocks in one window, would wrap around and is negligible).

Nothing here draws random numbers, so the sources and the decision-time truth are the
same bytes as without it, and the result is deterministic. Terms whose decision lies
after the simulated window have no ``p`` and get no ``p_as_of`` either (null).
The baseline is treated as known from the account's first day (a fixed trait of the
account, not an event), like the segment and the contract. The oracle also knows the
budget cuts and acquisitions that already happened: part of the world before as_of,
though by design they leave almost no trace in the source tables, so it stays out of
any model's reach on the rows they act on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from features.simulator.config import SimulationConfig
from features.simulator.contracts import pending_shocks, renewal_logit
from features.simulator.dynamics import AccountDynamics, World
from features.simulator.events import SHOCK_TYPES
from features.simulator.health import MAX_ACQUISITIONS, shock_config, shock_profile
from features.simulator.timeline import Timeline

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

GRID_STEP = 0.04  # latent-health units of z_bar per grid point
GRID_BELOW = 7.68  # reach below A: shocks only lower z_bar (at least 3 of the worst)
GRID_ABOVE_SDS = 5.5  # reach above A in drift standard deviations (at least 2.56)
_ONBOARDING = SHOCK_TYPES.index("poor_onboarding")
_ACQUIRED = SHOCK_TYPES.index("acquired")
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(3)
UPLIFT_NODES = (_NODES + 1) / 2  # Gauss-Legendre on [0, 1]
UPLIFT_WEIGHTS = _WEIGHTS / 2
assert MAX_ACQUISITIONS == 1, "the acquisition law below assumes at most one per account"


def snapshot_days(timeline: Timeline) -> IntArray:
    """Day indices of the monthly snapshot grid: the first day of every month in the
    window (`features.point_in_time.spine.snapshot_dates` with ``freq="monthly"``)."""
    first = timeline.start.replace(day=1)
    year, month = first.year, first.month
    days = []
    while True:
        day = timeline.day_index(first.replace(year=year, month=month))
        if day > timeline.last_day:
            break
        if day >= 0:
            days.append(day)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return np.asarray(days, dtype=np.int64)


@dataclass(frozen=True)
class Grid:
    """A circular grid of ``size`` points ``GRID_STEP`` apart: the first ``above`` hold
    x = 0, step, ..., the rest the negative x (an FFT's layout)."""

    size: int
    above: int

    @classmethod
    def for_config(cls, config: SimulationConfig) -> Grid:
        """Wide enough for the future drift (its window mean has a standard deviation of at
        most ``drift_sd``) above, and for several of the worst shocks below."""
        worst = max(shock_config(config, k).drop for k in range(len(SHOCK_TYPES)))
        above = math.ceil(max(2.56, GRID_ABOVE_SDS * config.health.drift_sd) / GRID_STEP)
        below = math.ceil(max(GRID_BELOW, 3 * worst) / GRID_STEP)
        return cls(size=1 << math.ceil(math.log2(above + below)), above=above)

    @property
    def x(self) -> FloatArray:
        j = np.arange(self.size)
        return GRID_STEP * np.where(j < self.above, j, j - self.size).astype(np.float64)

    def binned(self, x: FloatArray, weight: FloatArray) -> FloatArray:
        """Each value of ``x`` as ``weight`` split linearly between its two grid points."""
        t = x / GRID_STEP
        j0 = np.floor(t)
        frac = t - j0
        out = np.zeros((len(x), self.size))
        rows = np.arange(len(x))
        lo = j0.astype(np.int64) % self.size
        np.add.at(out, (rows, lo), weight * (1 - frac))
        np.add.at(out, (rows, (lo + 1) % self.size), weight * frac)
        return out


@dataclass(frozen=True)
class AsOfRows:
    """One account's rows: term number, as_of day index and risk at as_of (NaN: none)."""

    term_number: IntArray
    as_of_day: IntArray
    p_churn: FloatArray


class RiskTables:
    """What every account shares: shock profiles and the tabulated shock exponents.

    For a decision window of ``n`` days and a horizon of ``m`` days (as_of to decision),
    ``poisson[n][m]`` is the Fourier transform of ``sum lambda * w * binned(jump)`` over
    the Poisson shock kinds and the last ``m`` days, and ``acquired[n][m]`` the same for
    one acquisition per day (weight 1 per day; scaled per account by its daily chance).
    Windows shorter than the configured one only occur for an account's first days, where
    the horizon cannot exceed the window.
    """

    def __init__(self, config: SimulationConfig, timeline: Timeline) -> None:
        self.config, self.timeline = config, timeline
        self.window = config.renewal.health_window_days
        n_days = config.n_days
        n_kinds = len(SHOCK_TYPES)
        self.cum_profile = np.zeros((n_kinds, n_days + 1))  # [k, m]: profile sum of m days
        self.q = np.zeros(n_kinds)
        self.q_window = np.zeros(n_kinds, dtype=np.int64)
        for kind in range(n_kinds):
            cfg = shock_config(config, kind)
            np.cumsum(shock_profile(cfg, n_days), out=self.cum_profile[kind, 1:])
            self.q[kind], self.q_window[kind] = cfg.churn_probability, cfg.window_days
        self.daily_rate = np.array(
            [shock_config(config, k).rate_per_year / 365.25 for k in range(n_kinds)]
        )
        self.poisson_kinds = [  # onboarding and acquisitions follow laws of their own
            k for k in range(n_kinds)
            if k not in (_ONBOARDING, _ACQUIRED) and self.daily_rate[k] > 0
        ]  # fmt: skip
        self.poisson_rate = float(self.daily_rate[self.poisson_kinds].sum())
        self.space = Grid.for_config(config)
        size = self.space.size
        self.omega = 2 * np.pi * np.arange(size // 2 + 1) / (size * GRID_STEP)
        self.x = self.space.x
        self.grid = snapshot_days(timeline)
        self._poisson: dict[int, npt.NDArray[np.complex128]] = {}
        self._acquired: dict[int, npt.NDArray[np.complex128]] = {}

    def jump(self, kind: int, m: IntArray, n: int) -> FloatArray:
        """Change of ``z_bar`` from a shock ``m`` days before a decision with an ``n``-day
        window: its profile's sum over the window days after it, over ``n``."""
        cum = self.cum_profile[kind]
        return (cum[m] - cum[np.maximum(m - n, 0)]) / n

    def weight(self, kind: int, m: IntArray) -> FloatArray:
        """``1 - q`` when a shock ``m`` days before the decision acts on it, else 1."""
        acts = (m <= self.q_window[kind]) & (self.q[kind] > 0)
        return np.where(acts, 1.0 - self.q[kind], 1.0)

    def _table(self, kinds: list[int], rates: FloatArray, n: int) -> npt.NDArray[np.complex128]:
        longest = self.config.n_days if n == self.window else n
        m = np.arange(1, longest + 1)
        hist = np.zeros((longest + 1, self.space.size))
        for kind, rate in zip(kinds, rates, strict=True):
            hist[1:] += self.space.binned(self.jump(kind, m, n), rate * self.weight(kind, m))
        return np.fft.rfft(np.cumsum(hist, axis=0), axis=1)

    def poisson(self, n: int) -> npt.NDArray[np.complex128]:
        if n not in self._poisson:
            self._poisson[n] = self._table(
                self.poisson_kinds, self.daily_rate[self.poisson_kinds], n
            )
        return self._poisson[n]

    def acquired(self, n: int) -> npt.NDArray[np.complex128]:
        if n not in self._acquired:
            self._acquired[n] = self._table([_ACQUIRED], np.ones(1), n)
        return self._acquired[n]

    def one_jump(self, kind: int, m: IntArray, n: int) -> npt.NDArray[np.complex128]:
        """Fourier transform of one shock ``m`` days before the decision, weighted."""
        return np.fft.rfft(self.space.binned(self.jump(kind, m, n), self.weight(kind, m)),
                           axis=1)


def _stay(y: FloatArray, power: float, kappa: float) -> FloatArray:
    """``E[sigmoid(y - kappa * U) ** power]``: the chance a term of ``power`` years (at most
    1) renews on health alone, its price raised by ``kappa * U`` in logit with probability
    ``power``, ``U`` uniform on [0, 1]. For a year or more, the integral is closed-form:
    ``(softplus(y) - softplus(y - kappa)) / kappa``."""
    if power >= 1:
        if kappa == 0:
            return np.asarray(np.exp(-np.logaddexp(0.0, -y)), dtype=np.float64)
        return np.asarray((np.logaddexp(0.0, y) - np.logaddexp(0.0, y - kappa)) / kappa,
                          dtype=np.float64)  # fmt: skip
    stay = (1 - power) * np.exp(-power * np.logaddexp(0.0, -y))
    for node, weight in zip(UPLIFT_NODES, UPLIFT_WEIGHTS, strict=True):
        stay += power * weight * np.exp(-power * np.logaddexp(0.0, kappa * node - y))
    return np.asarray(stay, dtype=np.float64)


def account_risk(tables: RiskTables, world: World, dyn: AccountDynamics) -> AsOfRows:
    """The as-of risk of every (term, snapshot date) of one account, in time order."""
    config, grid = world.config, tables.grid
    setup, seg = dyn.contracts.setup, config.segments.ordered()[dyn.segment]
    years = setup.months / 12
    shock_day = np.array([s.day for s in dyn.health.shocks], dtype=np.int64)
    parts: list[tuple[int, IntArray, int, float, FloatArray]] = []  # number, a, e, base, q
    consumed: set[int] = set()
    for term in dyn.contracts.terms:
        days = grid[(grid >= term.start_day) & (grid < term.end_day)]
        if term.p_churn is None:  # the decision lies after the window: no truth to expect
            parts.append((term.number, days, term.end_day, math.nan, np.ones(len(days))))
            continue
        pending = pending_shocks(config, dyn.health, consumed, term.end_day)
        consumed.update(pending)
        q_known = np.ones(len(days))
        for i in pending:  # shocks with a churn chance of their own before as_of
            kind = dyn.health.shocks[i].kind
            q_known *= np.where(shock_day[i] < days, 1.0 - tables.q[kind], 1.0)
        base = renewal_logit(config, seg, setup, dyn.created_day, term.end_day, 0.0, years)
        parts.append((term.number, days, term.end_day, base, q_known))
    counts = [len(part[1]) for part in parts]
    number = np.repeat(np.array([part[0] for part in parts], dtype=np.int64), counts)
    a = np.concatenate([part[1] for part in parts] or [np.zeros(0, dtype=np.int64)])
    e = np.repeat(np.array([part[2] for part in parts], dtype=np.int64), counts)
    bases = np.repeat(np.array([part[3] for part in parts], dtype=np.float64), counts)
    q = np.concatenate([part[4] for part in parts] or [np.zeros(0)])
    p = np.full(len(a), np.nan)
    decided = ~np.isnan(bases)
    if decided.any():
        p[decided] = _risk(tables, world, dyn, a[decided], e[decided], bases[decided],
                           q[decided])  # fmt: skip
    return AsOfRows(number, a, p)


def _risk(
    tables: RiskTables,
    world: World,
    dyn: AccountDynamics,
    a: IntArray,
    e: IntArray,
    base: FloatArray,
    q_known: FloatArray,
) -> FloatArray:
    """E[p | world before a] of the decisions at days ``e``, one per row.

    ``base`` is each decision's churn logit before health and price, ``q_known`` the
    product of ``1 - q`` of the shocks with a churn chance of their own before as_of that
    act on it.
    """
    config, health = world.config, dyn.health
    first = health.first_day
    hc, rc = config.health, config.renewal
    lo = np.maximum(e - tables.window, first)
    n_w = e - lo  # window length (shorter only near the account's first day)
    horizon = e - a  # days from as_of to the decision, >= 1

    # A: realised window days, baseline, known shocks carried forward, expected drift
    start = np.maximum(a, lo)  # first future day of the window
    future = e - start  # >= 1
    known_z = health.z_sums(lo, np.maximum(a, lo))
    shock_day = np.array([s.day for s in health.shocks], dtype=np.int64)[None, :]
    shock_kind = np.array([s.kind for s in health.shocks], dtype=np.int64)[None, :]
    known = shock_day < a[:, None]
    cum = tables.cum_profile
    carried = (cum[shock_kind, np.clip(e[:, None] - shock_day, 0, None)]
               - cum[shock_kind, np.clip(start[:, None] - shock_day, 0, None)])  # fmt: skip
    known_offsets = np.where(known, carried, 0.0).sum(axis=1)
    phi, sd = hc.drift_persistence, hc.drift_sd
    started = a > first  # else the drift before as_of is unknown too (stationary)
    last_drift = np.where(started, health.drift[np.maximum(a - 1 - first, 0)], 0.0)
    geo = (1 - phi**future) / (1 - phi)  # phi^1 + ... + phi^L, L future window days
    lead = phi ** (start - a + 1.0)
    mean_drift = last_drift * lead * geo
    innov_var = sd**2 * (1 - phi**2)
    # innovations on window days, then on days between as_of and the window
    own = (future - 2 * phi * (1 - phi**future) / (1 - phi)
           + phi**2 * (1 - phi ** (2 * future)) / (1 - phi**2)) / (1 - phi) ** 2  # fmt: skip
    before = geo**2 * phi**2 * (1 - phi ** (2 * (start - a))) / (1 - phi**2)
    var = innov_var * (own + before) + np.where(started, 0.0, sd**2) * (lead * geo) ** 2
    centre = (known_z + future * health.baseline + known_offsets + mean_drift) / n_w
    spread = np.sqrt(np.maximum(var, 0.0)) / n_w

    # Characteristic function of B*G + X, future shocks weighted by their 1 - q
    log_cf = np.empty((len(a), len(tables.omega)), dtype=np.complex128)
    acq = np.empty_like(log_cf)
    for n in np.unique(n_w).tolist():
        rows = n_w == n
        log_cf[rows] = tables.poisson(n)[horizon[rows]]
        acq[rows] = tables.acquired(n)[horizon[rows]]
    log_cf -= tables.poisson_rate * horizon[:, None]
    cf = np.exp(log_cf - 0.5 * (spread[:, None] * tables.omega[None, :]) ** 2)
    n_all = config.n_days - first
    acq_total = tables.daily_rate[_ACQUIRED] * n_all
    if acq_total > 0:  # at most one acquisition: its law given none before as_of
        daily = -math.expm1(-acq_total) / n_all
        none_before = math.exp(-acq_total) + daily * (config.n_days - a)
        happened = np.any(known & (shock_kind == _ACQUIRED), axis=1)
        chance = np.where(happened, 0.0, daily / none_before)[:, None]
        cf *= 1 - chance * horizon[:, None] + chance * acq
    share = shock_config(config, _ONBOARDING).rate_per_year
    if share > 0 and not world.population.initial[dyn.index]:
        for row in np.flatnonzero(a == first).tolist():  # onboarding may still go wrong
            jump = tables.one_jump(_ONBOARDING, horizon[row : row + 1], int(n_w[row]))
            cf[row] *= 1 - share + share * jump[0]
    mass = np.fft.irfft(cf, n=tables.space.size, axis=1)

    # 1 - p_health on the grid, with the price increase integrated
    power = min(dyn.contracts.setup.months / 12, 1.0)  # also the chance of an increase
    kappa = rc.price_coef * config.expansion.price_uplift_max
    y = rc.health_coef * (centre[:, None] + tables.x[None, :]) - base[:, None]
    stay = _stay(y, power, kappa)
    p = 1.0 - q_known * np.einsum("ij,ij->i", mass, stay)
    return np.asarray(np.clip(p, 0.0, 1.0), dtype=np.float64)
