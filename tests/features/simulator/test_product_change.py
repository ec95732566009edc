"""The simulator's product change (`DriftConfig`): from its day the reached accounts use
the product less, and everything before it is exactly the base without it."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from features.simulator import SimulationConfig, simulate
from features.simulator.config import DriftConfig

CHANGE = dt.date(2024, 1, 1)


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    root = tmp_path_factory.mktemp("product-change")
    plain = SimulationConfig(n_accounts=60, start=dt.date(2023, 1, 1), end=dt.date(2024, 6, 30),
                             seed=4)
    changed = plain.model_copy(update={"drift": DriftConfig(from_date=CHANGE, share=0.5,
                                                            usage_factor=0.4)})
    simulate(plain, root / "plain")
    simulate(changed, root / "changed")
    return root / "plain", root / "changed", changed


def table(root, name):
    return pd.read_parquet(root / f"{name}.parquet")


def test_everything_before_the_change_is_the_base_without_it(bases):
    plain, changed, _ = bases
    cut = pd.Timestamp(CHANGE, tz="UTC")
    before = [table(root, "usage_events") for root in (plain, changed)]
    before = [u[u["timestamp"] < cut].reset_index(drop=True) for u in before]
    pd.testing.assert_frame_equal(before[0], before[1])
    for name in ("accounts", "subscriptions", "tickets", "surveys", "csm_notes"):
        pd.testing.assert_frame_equal(table(plain, name), table(changed, name))


def test_reached_accounts_use_the_product_less_after_it_and_the_others_not_at_all(bases):
    plain, changed, config = bases
    reached = config.drift.reached(config.seed, config.n_accounts)
    assert 0 < reached.sum() < config.n_accounts
    cut = pd.Timestamp(CHANGE, tz="UTC")
    ids = table(plain, "accounts")["account_id"]
    reached_ids = set(ids[reached])

    def after(root, mine):
        usage = table(root, "usage_events")
        usage = usage[(usage["timestamp"] >= cut) & usage["account_id"].isin(mine)]
        return usage.groupby("event_type")["quantity"].sum()

    ratio = after(changed, reached_ids) / after(plain, reached_ids)
    assert ratio.between(0.35, 0.45).all(), ratio
    others = set(ids) - reached_ids
    pd.testing.assert_series_equal(after(changed, others), after(plain, others))


def test_a_change_outside_the_window_is_refused(run_cli, tmp_path):
    result = run_cli("simulate", "--accounts", "5", "--start", "2023-01-01", "--end",
                     "2023-12-31", "--drift-from", "2024-02-01", "--out", tmp_path / "s")
    assert result.code != 0 and "drift date 2024-02-01" in result.err
    with pytest.raises(ValueError, match="drift date"):
        SimulationConfig(start=dt.date(2023, 1, 1), end=dt.date(2023, 12, 31),
                         drift=DriftConfig(from_date=dt.date(2023, 1, 1)))
