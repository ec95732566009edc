"""NPS and relationship-CSAT survey responses of one account.

Invitations arrive at random times (Poisson), NPS to several contacts per account.
Whether a contact answers depends on health (``response_bias``: unhappy customers answer
less when > 0, more when < 0), so survey averages are biased like real ones. Scores follow
health at the time of answering with noise; some answers carry a short comment chosen by
score band. For a year after a product-fit problem NPS answers are lower and most
detractor comments name the workflow that no longer fits.
"""

from __future__ import annotations

import numpy as np

from features.simulator.dynamics import AccountDynamics, World
from features.simulator.events import SURVEY_KINDS
from features.simulator.fingerprints import PRODUCT_FIT, onsets
from features.simulator.population import business_seconds
from features.simulator.records import SurveyRecords
from features.simulator.texts import COMMENT_GROUPS
from features.simulator.timeline import US_PER_SECOND

_NPS = SURVEY_KINDS.index("nps")
_CSAT = SURVEY_KINDS.index("csat")
MAX_RESPONSE_DELAY_DAYS = 10


def _comment(rng: np.random.Generator, groups: list[str], share: float) -> np.ndarray:
    """Comment index per answer: a random template of its group, or -1 for none."""
    starts = np.array([COMMENT_GROUPS[g][0] for g in groups], dtype=np.int64)
    counts = np.array([COMMENT_GROUPS[g][1] for g in groups], dtype=np.int64)
    pick = starts + (rng.random(len(groups)) * counts).astype(np.int64)
    return np.where(rng.random(len(groups)) < share, pick, -1).astype(np.int32)


def _after_fit_problem(dyn: AccountDynamics, day: np.ndarray, days: int) -> np.ndarray:
    """Whether each answer day (index from ``dyn.first_day``) follows a product-fit problem
    by at most ``days``."""
    hit = np.zeros(len(day), dtype=bool)
    for t0 in onsets(dyn.health.shocks, PRODUCT_FIT, dyn.first_day, dyn.n_active_days):
        hit |= (day >= t0) & (day < t0 + days)
    return hit


def simulate_surveys(rng: np.random.Generator, world: World, dyn: AccountDynamics) -> SurveyRecords:
    n = dyn.n_active_days
    if n == 0:
        return SurveyRecords.empty()
    config, sv = world.config, world.config.surveys
    seg = config.segments.ordered()[dyn.segment]
    years = n / 365.25
    score = dyn.health.channel("relationship")[:n]

    n_nps = int(rng.poisson(sv.nps_per_year * years))
    n_csat = int(rng.poisson(sv.csat_per_year * years))
    sent = rng.integers(0, n, size=n_nps + n_csat)
    kind = np.concatenate([np.full(n_nps, _NPS), np.full(n_csat, _CSAT)]).astype(np.int8)
    contacts = np.where(kind == _NPS, seg.survey_contacts, 1)
    sent, kind = np.repeat(sent, contacts), np.repeat(kind, contacts)

    answered_day = sent + rng.geometric(0.4, size=len(sent)) - 1
    answered_day = np.minimum(answered_day, sent + MAX_RESPONSE_DELAY_DAYS)
    inside = answered_day < n
    h = score[np.minimum(answered_day, n - 1)]
    p_answer = np.clip(sv.response_rate * np.exp(2.0 * sv.response_bias * (h - 0.6)), 0, 1)
    keep = inside & (rng.random(len(sent)) < p_answer)
    day, kind, h = answered_day[keep], kind[keep], h[keep]
    m = len(day)

    fit = _after_fit_problem(dyn, day, world.config.fingerprints.fit_survey_days)
    fit_drop = world.config.fingerprints.fit_nps_drop * fit
    nps = np.clip(np.round(rng.normal(3.0 + 8.0 * h - fit_drop, 1.5)), 0, 10)
    csat = np.clip(np.round(rng.normal(1.8 + 3.8 * h, 0.7)), 1, 5)
    is_nps = kind == _NPS
    value = np.where(is_nps, nps, csat)
    group = np.where(
        is_nps,
        np.where(nps <= 6, "detractor", np.where(nps <= 8, "passive", "promoter")),
        np.where(csat <= 3, "csat_low", "csat_high"),
    )
    comment = _comment(rng, list(group), sv.comment_share)
    # After a fit problem most detractors say which workflow stopped working for them.
    fit_comment = _comment(rng, ["fit_detractor"] * m, world.config.fingerprints.fit_comment_share)
    comment = np.where(is_nps & (nps <= 6) & fit & (fit_comment >= 0), fit_comment, comment)

    ts = world.timeline.day_us(dyn.first_day + day) + (
        business_seconds(rng, dyn.region, m) * US_PER_SECOND
    )
    order = np.argsort(ts, kind="stable")
    return SurveyRecords(
        account=np.full(m, dyn.index, dtype=np.int32),
        ts=ts[order],
        kind=kind[order],
        score=value[order].astype(np.float64),
        comment=comment[order],
    )
