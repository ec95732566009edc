"""References: the typical value among renewing training accounts, per segment."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.point_in_time.catalog import feature, render_reason
from training.contract import FeatureContract
from training.references import ALL, signal_spreads, typical_values


def _frame() -> pd.DataFrame:
    return pd.DataFrame({
        "segment": pd.Categorical(["smb", "smb", "smb", "mid_market", "mid_market", "smb"]),
        "churned": [False, False, True, False, False, False],
        "minutes_per_active_user_28d": [10.0, 30.0, 1.0, 60.0, 62.0, 500.0],
        "days_since_champion_left_note": [np.nan, np.nan, 3.0, 40.0, np.nan, np.nan],
        "auto_renew": [True, True, False, False, False, True],
    })


def test_typical_values_are_medians_of_the_renewing_training_rows_per_segment() -> None:
    frame = _frame()
    rows = np.array([0, 1, 2, 3, 4])  # row 5 is not a training row: its 500 never counts
    typical = typical_values(frame, rows, ["minutes_per_active_user_28d", "segment",
                                           "days_since_champion_left_note", "auto_renew"])
    minutes = typical["minutes_per_active_user_28d"]
    assert minutes == {ALL: 45.0, "smb": 20.0, "mid_market": 61.0}  # churned 1.0 left out
    assert set(typical["segment"]) == {ALL}  # by segment it would only repeat the segment
    # Most renewing accounts have no such note: typically none, in every group.
    assert typical["days_since_champion_left_note"][ALL] is None
    assert typical["days_since_champion_left_note"]["smb"] is None
    assert typical["auto_renew"]["smb"] is True and typical["auto_renew"]["mid_market"] is False


def test_the_contract_carries_references_through_its_dict_form() -> None:
    frame = _frame()
    names = ["minutes_per_active_user_28d"]
    contract = FeatureContract.from_frame(frame, names)
    contract = FeatureContract(contract.names, contract.categories, contract.families,
                               contract.nullable, typical_values(frame, np.arange(5), names))
    again = FeatureContract.from_dict(contract.to_dict())
    assert again.reference("minutes_per_active_user_28d", "mid_market") == ("mid_market", 61.0)
    # An unknown or missing segment falls back to all segments; an unknown feature has none.
    assert again.reference("minutes_per_active_user_28d", "public_sector") == (ALL, 45.0)
    assert again.reference("minutes_per_active_user_28d", None) == (ALL, 45.0)
    assert again.reference("seats", "smb") is None


def test_reference_clauses_read_like_the_sentence() -> None:
    row = {"minutes_per_active_user_28d": 24.0, "busiest_user_days_since_active": 26.0,
           "busiest_user_share_90d": 0.4, "days_since_champion_left_note": None}
    assert render_reason("minutes_per_active_user_28d", row, ("mid_market", 61.0)) == (
        "24 session minutes per active user in the last 28 days; renewing mid-market "
        "accounts: 61 minutes")
    assert render_reason("busiest_user_days_since_active", row, ("smb", 2.0)).endswith(
        "; renewing SMB accounts: 2 days")
    assert render_reason("busiest_user_share_90d", row, (ALL, 0.25)).endswith(
        "; renewing accounts: 25%")
    assert render_reason("days_since_champion_left_note", row, ("smb", None)) == (
        f"{feature('days_since_champion_left_note').missing}; renewing SMB accounts: "
        "typically none")


def test_signal_spreads_are_the_spread_of_each_signals_summed_push() -> None:
    contributions = np.array([[0.1, 0.3, -0.2], [0.3, -0.1, 0.0], [0.2, 0.1, 0.0]])
    names = ["logins_28d", "session_minutes_28d", "nps_latest"]
    signal = {"logins_28d": "engagement_depth", "session_minutes_28d": "engagement_depth",
              "nps_latest": "sentiment"}
    spreads = signal_spreads(contributions, names, signal.__getitem__)
    assert spreads["engagement_depth"] == pytest.approx(np.std([0.4, 0.2, 0.3]))
    assert spreads["sentiment"] == pytest.approx(np.std([-0.2, 0.0, 0.0]))
    assert "support_load" not in spreads
    flat = signal_spreads(np.zeros((3, 3)), names, signal.__getitem__)
    assert flat == {}, "a signal that never pushes has no spread to rank against"
