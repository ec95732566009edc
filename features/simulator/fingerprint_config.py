"""What each shock leaves in the signals, as configuration (`SimulationConfig.fingerprints`).

Kept apart from `config` so that module stays one screen per mechanism; the behaviour is
in `fingerprints` and `health.Health.channel`.
"""

from __future__ import annotations

from typing import Self

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from features.simulator.events import FACETS, KEY_FEATURES, SHOCK_TYPES


class Strict(BaseModel):
    """A config model that refuses unknown keys and never changes once made."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class FingerprintsConfig(Strict):
    """What each shock leaves in the signals besides its health drop, as in real accounts.

    Champion left: the account's power user stops and a replacement ramps up weeks later.
    Product fit: the account's main workflow features decline over months and detractor
    NPS comments name the workflow. Poor onboarding: seats activate slowly. Budget cut:
    part of the users are switched off and a CSM may note the budget. Support crises
    already show as their own ticket surge (`ShocksConfig.crisis_*`); acquisitions leave
    no trace.
    """

    power_user_boost: float = Field(
        default=2.5, ge=1, description="login odds and sessions of each account's power user"
    )
    replacement_days: tuple[int, int] = Field(
        default=(14, 42), description="days after the champion leaves until a successor starts"
    )
    replacement_ramp_days: int = Field(default=30, ge=1)
    workflow_features: int = Field(
        default=2, ge=1, le=len(KEY_FEATURES), description="features a fit problem hits"
    )
    workflow_decline_days: float = Field(
        default=45.0, gt=0, description="time constant of the workflow features' decline"
    )
    workflow_floor: float = Field(default=0.1, ge=0, le=1, description="use left at the end")
    fit_nps_drop: float = Field(default=2.5, ge=0, description="NPS points lost to a fit problem")
    fit_comment_share: float = Field(default=0.7, ge=0, le=1)
    fit_survey_days: int = Field(default=365, ge=1, description="how long NPS answers show it")
    onboarding_seat_slowdown: float = Field(default=3.0, ge=1)
    budget_user_cut: float = Field(
        default=0.3, ge=0, le=1, description="share of users switched off after a budget cut"
    )
    budget_note_share: float = Field(default=0.4, ge=0, le=1)
    shock_channels: dict[str, tuple[str, ...]] = Field(
        default_factory=lambda: {
            "poor_onboarding": ("adoption", "engagement"),
            "champion_left": ("engagement",),
            "product_fit": ("adoption", "relationship"),
            "support_crisis": ("support",),
            "budget_cut": FACETS,
            "acquired": FACETS,
        },
        description="the channels of signals that show a shock's health drop in full",
    )
    off_channel_share: float = Field(
        default=0.3, ge=0, le=1, description="share of the drop the other channels show"
    )

    @model_validator(mode="after")
    def _channels_known(self) -> Self:
        if set(self.shock_channels) != set(SHOCK_TYPES):
            raise ValueError(f"fingerprints.shock_channels needs exactly the keys "
                             f"{list(SHOCK_TYPES)}")
        unknown = {c for cs in self.shock_channels.values() for c in cs} - set(FACETS)
        if unknown:
            raise ValueError(f"unknown channels {sorted(unknown)}; use {list(FACETS)}")
        return self

    def seen_by(self) -> npt.NDArray[np.float64]:
        """(shock kinds x facets): the share of each shock's drop a channel shows."""
        out = np.full((len(SHOCK_TYPES), len(FACETS)), self.off_channel_share)
        for kind, channels in self.shock_channels.items():
            for channel in channels:
                out[SHOCK_TYPES.index(kind), FACETS.index(channel)] = 1.0
        return out
