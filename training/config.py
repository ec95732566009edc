"""The versioned training configuration: YAML parsed strictly into typed models.

A misspelt hyperparameter must be an error, not a silently ignored key, so every model
forbids extra fields.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from features.errors import ConfigError

CONFIG_VERSION = 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SplitConfig(_Strict):
    """Window lengths in months, or "auto": one month when the terms are monthly (or the
    history too short for three), else three (`training.splits.resolve_split`)."""

    test_months: int | Literal["auto"] = Field(default="auto")
    validation_months: int | Literal["auto"] = Field(default="auto")
    backtest_folds: int = Field(default=3, ge=0, le=12)
    min_label_coverage: float = Field(default=0.8, gt=0, le=1)


class LightGBMConfig(_Strict):
    num_leaves: int = Field(default=3, ge=2, le=1024)
    max_depth: int = Field(default=2, ge=-1, le=32)
    learning_rate: float = Field(default=0.03, gt=0, le=1)
    n_estimators: int = Field(default=1000, ge=1, le=10_000)
    early_stopping_rounds: int = Field(default=40, ge=1)
    min_child_samples: int = Field(default=200, ge=1)
    feature_fraction: float = Field(default=0.8, gt=0, le=1)
    bagging_fraction: float = Field(default=0.8, gt=0, le=1)
    bagging_freq: int = Field(default=1, ge=0)
    lambda_l2: float = Field(default=10.0, ge=0)
    cat_smooth: float = Field(default=50.0, ge=0)
    min_data_per_group: int = Field(default=50, ge=1)
    weight_by_term: bool = True


class CalibrationConfig(_Strict):
    method: Literal["isotonic", "sigmoid"] = "sigmoid"


class RefitConfig(_Strict):
    """Refit the shipped model on every resolved label (`training.refit`)."""

    enabled: bool = True
    calibration_folds: int = Field(default=4, ge=2, le=12)


class GuardConfig(_Strict):
    min_churned_terms: int = Field(default=30, ge=1)


class TrainConfig(_Strict):
    version: Literal[1] = 1
    seed: int = 7
    split: SplitConfig = Field(default_factory=SplitConfig)
    lightgbm: LightGBMConfig = Field(default_factory=LightGBMConfig)
    calibration: CalibrationConfig = Field(default_factory=CalibrationConfig)
    refit: RefitConfig = Field(default_factory=RefitConfig)
    guards: GuardConfig = Field(default_factory=GuardConfig)

    def flat_params(self) -> dict[str, object]:
        """Every setting as `section.key` → value, for MLflow params."""
        out: dict[str, object] = {"version": self.version, "seed": self.seed}
        for section in ("split", "lightgbm", "calibration", "refit", "guards"):
            for key, value in getattr(self, section).model_dump().items():
                out[f"{section}.{key}"] = value
        return out


def default_config_path() -> Path:
    return Path(str(resources.files("training") / "configs" / "default.yaml"))


def load_config(path: Path | None = None) -> TrainConfig:
    """Parse a YAML config (default: the packaged one); any unknown key is an error."""
    path = path or default_config_path()
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"Training config {path} does not exist.") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"Training config {path} is not valid YAML: {exc}") from None
    try:
        return TrainConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(
            f"Training config {path} is invalid: {problems}. See "
            f"{default_config_path()} for every key and its default."
        ) from None
