"""The training config is parsed strictly."""

from __future__ import annotations

import pytest

from features.errors import ConfigError
from training.config import TrainConfig, default_config_path, load_config


def test_packaged_default_parses_and_matches_the_model_defaults():
    assert load_config(default_config_path()) == TrainConfig()


def test_misspelt_hyperparameter_is_an_error(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("version: 1\nlightgbm:\n  num_leafs: 31\n")
    with pytest.raises(ConfigError, match=r"lightgbm\.num_leafs: Extra inputs"):
        load_config(path)


def test_out_of_range_value_is_an_error(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("calibration:\n  method: platt\n")
    with pytest.raises(ConfigError, match=r"calibration\.method"):
        load_config(path)


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
