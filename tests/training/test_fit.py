"""Fitting details: every subscription term weighs the same in training."""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.fit import term_weights


def test_each_term_gets_the_same_total_weight_and_the_mean_is_one():
    frame = pd.DataFrame({"subscription_id": ["annual"] * 12 + ["m1", "m2", "quarterly",
                                                                "quarterly", "quarterly"]})
    rows = np.arange(len(frame))
    weight = term_weights(frame, rows)
    totals = pd.Series(weight).groupby(frame["subscription_id"]).sum()
    np.testing.assert_allclose(totals.to_numpy(), totals.iloc[0])
    assert np.isclose(weight.mean(), 1.0)


def test_weights_count_only_the_rows_given():
    frame = pd.DataFrame({"subscription_id": ["a", "a", "a", "b"]})
    weight = term_weights(frame, np.array([0, 3]))  # one row of each term in training
    np.testing.assert_allclose(weight, [1.0, 1.0])
