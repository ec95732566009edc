"""Reasons are signals: correlated features make one reason, context comes last."""

from __future__ import annotations

import numpy as np
import pytest

from serving.risk import signal_reasons

LABELS, CODES = np.unique(["engagement_depth", "engagement_depth", "support_load",
                           "commercial_terms", "sentiment"], return_inverse=True)


def test_features_of_one_signal_add_up_to_one_reason_voiced_by_the_strongest():
    contrib = np.array([0.2, 0.5, 0.6, 0.0, -0.1])
    reasons = signal_reasons(contrib, LABELS, CODES, top=5)
    assert reasons[0] == (1, pytest.approx(0.7))  # engagement: 0.2 + 0.5, said by feature 1
    assert reasons[1] == (2, pytest.approx(0.6))
    assert len(reasons) == 2, "signals that lower the risk give no reason"


def test_context_follows_what_a_csm_can_act_on_even_when_it_pushes_more():
    contrib = np.array([0.1, 0.0, 0.0, 2.0, 0.3])
    assert signal_reasons(contrib, LABELS, CODES, top=5) == [
        (4, pytest.approx(0.3)), (0, pytest.approx(0.1)), (3, pytest.approx(2.0))]
    # `top` counts what a CSM can act on; context that pushes is always said after it.
    assert [j for j, _ in signal_reasons(contrib, LABELS, CODES, top=1)] == [4, 3]
    contrib[3] = -0.5
    assert [j for j, _ in signal_reasons(contrib, LABELS, CODES, top=1)] == [4]


def test_a_signal_whose_features_cancel_out_is_no_reason():
    contrib = np.array([0.4, -0.5, 0.0, 0.0, 0.0])
    assert signal_reasons(contrib, LABELS, CODES, top=5) == []


def test_signals_rank_by_their_push_against_their_usual_spread():
    # Engagement pushes 0.7 but usually swings by 1.0; support's 0.6 is six times its
    # usual 0.1: the rare push comes first, and each reason keeps its exact total.
    contrib = np.array([0.2, 0.5, 0.6, 0.0, 0.0])
    scale = np.ones(len(LABELS))
    scale[list(LABELS).index("engagement_depth")] = 1.0
    scale[list(LABELS).index("support_load")] = 0.1
    assert signal_reasons(contrib, LABELS, CODES, top=5, scale=scale) == [
        (2, pytest.approx(0.6)), (1, pytest.approx(0.7))]
    assert signal_reasons(contrib, LABELS, CODES, top=5) == [
        (1, pytest.approx(0.7)), (2, pytest.approx(0.6))]
