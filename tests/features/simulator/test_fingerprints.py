"""Each shock leaves its own trace in the source tables, and the truth says which were there."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.simulator.events import SHOCK_TYPES
from features.simulator.fingerprint_config import FingerprintsConfig
from features.simulator.fingerprints import (
    BUDGET_CUT,
    CHAMPION_LEFT,
    PRODUCT_FIT,
    Seats,
    budget_cuts,
    champion_departures,
    onboarding_ramp,
    power_user,
    presence,
    workflow_decline,
)
from features.simulator.health import Health, Shock
from features.simulator.texts import NOTES_BY_EVENT, NPS_FIT

FC = FingerprintsConfig()
DAYS = 200


def _seats(n_users: int = 5) -> Seats:
    return Seats(
        propensity=np.ones(n_users),
        rank=np.linspace(0.1, 0.9, n_users)[::-1].copy(),  # the last column is most engaged
        licensed=np.ones((DAYS, n_users), dtype=bool),
        ramp=np.ones((DAYS, n_users)),
    )


def _health(*shocks: Shock, first_day: int = 0) -> Health:
    n = DAYS
    return Health(first_day=first_day, z=np.zeros(n), offsets=np.zeros((len(SHOCK_TYPES), n)),
                  shocks=shocks, baseline=0.0, drift=np.zeros(n))


def test_the_power_user_is_the_most_engaged_seat_and_logs_in_most() -> None:
    seats = _seats()
    assert power_user(seats, FC) == 4
    assert seats.propensity[4] == FC.power_user_boost
    assert (seats.propensity[:4] == 1).all()


def test_a_departing_champion_stops_and_a_successor_ramps_up_weeks_later() -> None:
    seats = _seats()
    champion = power_user(seats, FC)
    out = champion_departures(np.random.default_rng(0), seats, (Shock(50, CHAMPION_LEFT),), 0,
                              champion, FC)
    assert out.licensed.shape == (DAYS, 6)
    assert out.licensed[:50, champion].all() and not out.licensed[50:, champion].any()
    started = int(np.flatnonzero(out.licensed[:, 5])[0])
    lo, hi = FC.replacement_days
    assert 50 + lo <= started <= 50 + hi
    assert out.ramp[started, 5] < out.ramp[started + FC.replacement_ramp_days, 5] == 1.0
    assert out.propensity[5] == out.propensity[champion]
    assert out.licensed[:, :4].all(), "nobody else leaves"


def test_a_shock_outside_the_account_days_changes_nothing() -> None:
    seats = _seats()
    out = champion_departures(np.random.default_rng(0), seats, (Shock(DAYS + 5, CHAMPION_LEFT),),
                              0, 4, FC)
    assert out.licensed.shape == (DAYS, 5) and out.licensed.all()


def test_a_budget_cut_switches_users_off_but_never_the_champion() -> None:
    seats = _seats(200)
    budget_cuts(np.random.default_rng(1), seats, (Shock(80, BUDGET_CUT),), 0, 7,
                FingerprintsConfig(budget_user_cut=0.5))
    assert seats.licensed[:80].all()
    off = ~seats.licensed[80]
    assert not off[7]
    assert 0.35 < off.mean() < 0.65
    assert (seats.licensed[80:] == seats.licensed[80]).all(), "switched off for good"


def test_a_fit_problem_wears_down_the_most_used_adopted_features_only() -> None:
    rates = np.array([0.25, 1.2, 0.8, 0.5, 0.15, 3.0])
    adopted = np.array([True, True, True, True, True, False])  # the busiest is not adopted
    factor = workflow_decline(_health(Shock(40, PRODUCT_FIT)), 0, DAYS, adopted, rates, FC)
    hit = [1, 2]  # dashboard_viewed and integration_sync: the most used adopted ones
    assert (factor[:40] == 1).all()
    assert (np.delete(factor, hit, axis=1) == 1).all()
    assert (np.diff(factor[40:, hit], axis=0) <= 0).all()
    assert (FC.workflow_floor < factor[-1, hit]).all() and (factor[-1, hit] < 0.15).all()


def test_a_poor_onboarding_activates_seats_slower() -> None:
    normal, poor = onboarding_ramp(DAYS, 45, False, FC), onboarding_ramp(DAYS, 45, True, FC)
    assert normal[44] == 1.0 and poor[44] < 0.6
    assert (poor <= normal).all()


def test_presence_counts_a_trace_within_its_visible_days() -> None:
    health = _health(Shock(10, CHAMPION_LEFT), Shock(30, SHOCK_TYPES.index("acquired")))
    assert presence(health, 16) == []  # a week of silence before it stands out
    assert presence(health, 17) == ["champion_left"]
    assert presence(health, 190) == ["champion_left"]
    assert presence(health, 191) == []
    assert presence(health, 100) == ["champion_left"], "an acquisition leaves no trace"


def _shocks(tables: dict[str, pd.DataFrame], kind: str) -> pd.DataFrame:
    shocks = tables["truth_shocks"]
    return shocks[shocks.shock_type == kind]


def test_after_a_champion_leaves_the_busiest_user_is_gone(
    small_tables: dict[str, pd.DataFrame],
) -> None:
    logins = small_tables["usage_events"].query("event_type == 'login'")
    gone, seen = 0, 0
    for shock in _shocks(small_tables, "champion_left").itertuples():
        mine = logins[logins.account_id == shock.account_id]
        before = mine[mine.timestamp.between(shock.date - pd.Timedelta(days=90), shock.date,
                                             inclusive="left")]
        after = mine[mine.timestamp.between(shock.date + pd.Timedelta(days=7),
                                            shock.date + pd.Timedelta(days=60))]
        if before.empty or after.empty:
            continue
        seen += 1
        busiest = before.groupby("user_id").quantity.sum().idxmax()
        gone += busiest not in set(after.user_id)
    assert seen >= 20
    assert gone / seen >= 0.7, f"the busiest user stayed after {seen - gone} of {seen} departures"


def test_fit_problems_bring_detractor_comments_that_name_the_workflow(
    small_tables: dict[str, pd.DataFrame],
) -> None:
    comments = small_tables["surveys"].comment
    fit_accounts = set(_shocks(small_tables, "product_fit").account_id)
    named = small_tables["surveys"][comments.isin(NPS_FIT)]
    assert len(named) >= 5
    assert set(named.account_id) <= fit_accounts


def test_some_budget_cuts_are_noted_and_no_other_account_gets_that_note(
    small_tables: dict[str, pd.DataFrame],
) -> None:
    notes = small_tables["csm_notes"]
    noted = set(notes[notes.text == NOTES_BY_EVENT["budget_cut"]].account_id)
    cut = set(_shocks(small_tables, "budget_cut").account_id)
    assert noted and noted <= cut
    assert len(noted) < len(cut), "a budget cut is noted only sometimes"


def test_the_truth_names_the_traces_before_each_renewal(
    small_tables: dict[str, pd.DataFrame],
) -> None:
    terms = small_tables["truth_terms"]
    listed = terms.fingerprints.explode().dropna()
    assert set(listed) == {"champion_left", "product_fit", "poor_onboarding", "support_crisis",
                           "budget_cut"}
    shocks = small_tables["truth_shocks"]
    for term in terms[terms.fingerprints.str.len() > 0].head(50).itertuples():
        for kind in term.fingerprints:
            mine = shocks[(shocks.account_id == term.account_id) & (shocks.shock_type == kind)]
            assert (mine.date < term.end_date).any()
