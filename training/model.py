"""`ChurnRiskModel`: the booster, its calibrator and its feature contract, as one object.

This is the only part of `training` that `serving` may import. It predicts calibrated
probabilities and explains them exactly with LightGBM's TreeSHAP (`pred_contrib`):
per-feature contributions to the raw score that sum, with the bias, to that score.
It is saved as the booster's text model plus one JSON file, with no pickles.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from training.calibration import Calibrator
from training.contract import FeatureContract
from training.profile import ReferenceProfile

BOOSTER_FILE = "booster.txt"
META_FILE = "churnlens-model.json"


@dataclass
class Explanation:
    """Per-row contributions to the raw score (log-odds) and the bias they start from."""

    contributions: np.ndarray  # rows x features
    bias: np.ndarray  # rows

    def by_family(self, contract: FeatureContract) -> dict[str, np.ndarray]:
        """Contributions summed per feature family (usage, support, sentiment, contract)."""
        out: dict[str, np.ndarray] = {}
        for j, name in enumerate(contract.names):
            family = contract.families.get(name, "other")
            out[family] = out.get(family, 0.0) + self.contributions[:, j]
        return out


@dataclass
class ChurnRiskModel:
    booster: lgb.Booster
    calibrator: Calibrator
    contract: FeatureContract
    catalog_version: str
    metadata: dict[str, Any] = field(default_factory=dict)
    # What its inputs and scores looked like out of time (`training.profile`); None for
    # models saved before it was kept, which monitoring then cannot judge for drift.
    profile: ReferenceProfile | None = None

    def raw_score(self, matrix: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.predict(matrix, raw_score=True, num_threads=1))

    def predict_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """Calibrated non-renewal probabilities for an encoded matrix."""
        return self.calibrator.apply(self.raw_score(matrix))

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated non-renewal probabilities for a feature frame."""
        return self.predict_matrix(self.contract.encode(frame))

    def explain_matrix(self, matrix: np.ndarray, num_threads: int = 1) -> Explanation:
        contrib = np.asarray(self.booster.predict(matrix, pred_contrib=True,
                                                  num_threads=num_threads))
        return Explanation(contrib[:, :-1], contrib[:, -1])

    def explain(self, frame: pd.DataFrame) -> Explanation:
        return self.explain_matrix(self.contract.encode(frame))

    def save(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(directory / BOOSTER_FILE))
        meta = {
            "format": 1,
            "calibrator": self.calibrator.to_dict(),
            "contract": self.contract.to_dict(),
            "catalog_version": self.catalog_version,
            "metadata": self.metadata,
            "profile": None if self.profile is None else self.profile.to_dict(),
        }
        (directory / META_FILE).write_text(json.dumps(meta, indent=2, default=str))
        return directory

    @classmethod
    def load(cls, directory: Path) -> ChurnRiskModel:
        meta = json.loads((directory / META_FILE).read_text())
        booster = lgb.Booster(model_file=str(directory / BOOSTER_FILE))
        return cls(booster, Calibrator.from_dict(meta["calibrator"]),
                   FeatureContract.from_dict(meta["contract"]), meta["catalog_version"],
                   meta.get("metadata", {}),
                   None if meta.get("profile") is None
                   else ReferenceProfile.from_dict(meta["profile"]))
