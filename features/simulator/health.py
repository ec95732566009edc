"""The hidden health process of one account (never written to the source tables).

Latent health ``z`` (logit scale) is the sum of three parts:

* a baseline drawn per account around the segment mean (some customers simply fit better),
  itself a shared part plus four facets (`FACETS`): an account can be weak in how much the
  team works in the product, in how far it has spread, in the relationship or in support,
  and each facet shows mainly in its own signals (`Health.channel`), as in real books
  where red accounts are red for different reasons;
* a slow AR(1) drift, so health wanders without any event;
* shock offsets: each shock lowers health, ramping in and then partly recovering. The
  renewal feels all of it, but the signals see it mostly through the shock's own
  channels (`FingerprintsConfig.shock_channels`): a fit problem shows in adoption and in
  what the customer says, far less in how often the team logs in.

Signals read ``sigmoid(z)``; the renewal decision reads the mean of ``z`` before renewal.
Keeping every shock's offset separately lets the truth files name the mechanism that
drove a term's risk.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from features.simulator.config import ShockConfig, SimulationConfig
from features.simulator.events import FACETS, SHOCK_TYPES

FloatArray = npt.NDArray[np.float64]
_AR_BLOCK = 128  # keeps phi**-k well inside float range in the blocked AR(1) recursion
MAX_ACQUISITIONS = 1


@dataclass(frozen=True)
class Shock:
    day: int  # day index of the window
    kind: int  # index into events.SHOCK_TYPES


@dataclass(frozen=True)
class Health:
    """Health of one account on days ``first_day .. last_day`` (array position 0 = first_day)."""

    first_day: int
    z: FloatArray  # baseline + drift + offsets.sum(axis=0)
    offsets: FloatArray  # (len(SHOCK_TYPES), n): each mechanism's contribution to z
    shocks: tuple[Shock, ...]
    # the parts of z without shocks, kept so the as-of truth can project health forward
    baseline: float  # includes the facets
    drift: FloatArray
    facets: FloatArray = field(default_factory=lambda: np.zeros(len(FACETS)))
    facet_weight: float = 1.0
    # (shock kinds x facets): the share of each shock's offset a facet's channel shows
    seen_by: FloatArray = field(default_factory=lambda: np.ones((len(SHOCK_TYPES), len(FACETS))))
    # running sums with a leading zero column: window means in O(1) per renewal decision
    _cum: FloatArray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        stacked = np.vstack([self.z[None, :], self.offsets])
        cum = np.zeros((stacked.shape[0], stacked.shape[1] + 1))
        np.cumsum(stacked, axis=1, out=cum[:, 1:])
        object.__setattr__(self, "_cum", cum)

    def z_sums(self, lo_day: npt.ArrayLike, hi_day: npt.ArrayLike) -> FloatArray:
        """Sums of z over days ``[lo_day, hi_day)`` (elementwise), within the simulated
        days; an empty range sums to 0."""
        lo = np.asarray(lo_day, dtype=np.int64) - self.first_day
        hi = np.maximum(np.asarray(hi_day, dtype=np.int64) - self.first_day, lo)
        return np.asarray(self._cum[0, hi] - self._cum[0, lo], dtype=np.float64)

    @property
    def score(self) -> FloatArray:
        """Observable-facing health in (0, 1)."""
        return 1.0 / (1.0 + np.exp(-self.z))

    def channel(self, facet: str) -> FloatArray:
        """Health in (0, 1) as one channel of signals sees it: the shared part of ``z``
        plus ``facet_weight`` times its own facet, so a weak facet stands out there, and
        the shocks as far as this channel sees them (`seen_by`)."""
        k = FACETS.index(facet)
        shocks = self.offsets.sum(axis=0)
        seen = self.seen_by[:, k] @ self.offsets
        z = self.z - self.facets.sum() + self.facet_weight * self.facets[k] - shocks + seen
        return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float64)

    def window_means(self, lo_day: int, hi_day: int) -> tuple[float, FloatArray]:
        """Mean z and mean offset per shock type over ``[lo_day, hi_day)``."""
        lo = max(lo_day - self.first_day, 0)
        hi = min(max(hi_day - self.first_day, lo + 1), len(self.z))
        lo = min(lo, hi - 1)
        means = (self._cum[:, hi] - self._cum[:, lo]) / (hi - lo)
        return float(means[0]), means[1:]


def ar1(innovations: FloatArray, phi: float, x0: float) -> FloatArray:
    """``x[t] = phi * x[t-1] + e[t]`` without a per-day Python loop (blocked cumsum)."""
    out = np.empty_like(innovations)
    powers = phi ** np.arange(1, _AR_BLOCK + 1)
    prev = x0
    for s in range(0, len(innovations), _AR_BLOCK):
        e = innovations[s : s + _AR_BLOCK]
        p = powers[: len(e)]
        out[s : s + len(e)] = p * (prev + np.cumsum(e / p))
        prev = float(out[s + len(e) - 1])
    return out


def shock_profile(cfg: ShockConfig, length: int) -> FloatArray:
    """Latent-health offset of one shock over the ``length`` days from its onset."""
    t = np.arange(length, dtype=np.float64)
    ramp = np.minimum((t + 1) / cfg.ramp_days, 1.0)
    after = np.maximum(t - cfg.ramp_days, 0.0)
    decay = cfg.persistent_share + (1 - cfg.persistent_share) * np.exp(-after / cfg.recovery_days)
    return -cfg.drop * ramp * decay


def shock_config(config: SimulationConfig, kind: int) -> ShockConfig:
    cfg: ShockConfig = getattr(config.shocks, SHOCK_TYPES[kind])
    return cfg


def simulate_health(
    rng: np.random.Generator,
    config: SimulationConfig,
    segment: int,
    first_day: int,
    new_signup: bool,
) -> Health:
    """Baseline + drift + shocks from ``first_day`` to the end of the window."""
    n = config.n_days - first_day
    years = n / 365.25
    hc = config.health
    facets = rng.normal(0.0, hc.facet_sd, size=len(FACETS))
    baseline = rng.normal(config.segments.ordered()[segment].health_mean,
                          hc.baseline_sd) + float(facets.sum())
    innov_sd = hc.drift_sd * np.sqrt(1 - hc.drift_persistence**2)
    drift = ar1(
        rng.normal(0.0, innov_sd, size=n), hc.drift_persistence, rng.normal(0.0, hc.drift_sd)
    )

    shocks: list[Shock] = []
    for kind, name in enumerate(SHOCK_TYPES):
        cfg = shock_config(config, kind)
        if name == "poor_onboarding":
            hit = new_signup and rng.random() < cfg.rate_per_year
            days = [first_day] if hit else []
        else:
            count = int(rng.poisson(cfg.rate_per_year * years))
            if name == "acquired":
                count = min(count, MAX_ACQUISITIONS)
            days = sorted(int(d) for d in rng.integers(first_day, config.n_days, size=count))
        shocks.extend(Shock(day, kind) for day in days)

    offsets = np.zeros((len(SHOCK_TYPES), n))
    for shock in shocks:
        onset = shock.day - first_day
        offsets[shock.kind, onset:] += shock_profile(shock_config(config, shock.kind), n - onset)
    z = baseline + drift + offsets.sum(axis=0)
    ordered = tuple(sorted(shocks, key=lambda s: (s.day, s.kind)))
    return Health(
        first_day=first_day, z=z, offsets=offsets, shocks=ordered, baseline=float(baseline),
        drift=drift, facets=facets, facet_weight=hc.facet_weight,
        seen_by=config.fingerprints.seen_by(),
    )
