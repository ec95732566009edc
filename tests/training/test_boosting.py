"""Boosters fitted on a Dask worker equal local ones; fitted across workers, they agree
within a tolerance (lightgbm.dask's documented limit)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from features.distributed.cluster import ClusterChoice
from features.errors import ConfigError
from training.boosting import Rows, fit_booster, fitting_on, fitting_with
from training.config import load_config
from training.fit import lgb_params
from training.pipeline import train_and_evaluate


def _rows(seed: int, n: int) -> Rows:
    rng = np.random.default_rng(seed)
    matrix = rng.normal(size=(n, 6))
    chance = 1 / (1 + np.exp(-(matrix[:, 0] - 0.8 * matrix[:, 1] + 0.5 * matrix[:, 2] ** 2)))
    return Rows(matrix, (rng.random(n) < chance).astype(np.float64),
                rng.uniform(0.5, 1.5, size=n))


NAMES = [f"f{i}" for i in range(6)]
PARAMS = lgb_params(load_config())


def test_a_fit_on_a_worker_is_exactly_the_local_fit(dask_runner):
    train, valid = _rows(1, 1500), _rows(2, 500)
    local = fit_booster(PARAMS, train, valid, NAMES, [], 3000, 20)
    with fitting_with(dask_runner.client):
        remote = fit_booster(PARAMS, train, valid, NAMES, [], 3000, 20)
        fixed = fit_booster(PARAMS, train, None, NAMES, [], 50)
    assert 0 < local.num_trees() < 3000  # it stopped early
    assert remote.model_to_string() == local.model_to_string()
    assert fixed.model_to_string() == fit_booster(PARAMS, train, None, NAMES, [], 50
                                                  ).model_to_string()


def test_a_fit_across_workers_agrees_with_the_local_one_within_a_tolerance(dask_runner):
    train, test = _rows(3, 6000), _rows(4, 3000)
    local = fit_booster(PARAMS, train, None, NAMES, [], 80)
    with fitting_with(dask_runner.client, distributed=True):
        spread = fit_booster(PARAMS, train, _rows(5, 100), NAMES, [], 80, 10)
    assert spread.num_trees() == 80  # no early stopping across workers
    ours, theirs = local.predict(test.matrix), spread.predict(test.matrix)
    assert np.corrcoef(ours, theirs)[0, 1] > 0.95
    assert abs(roc_auc_score(test.labels, ours) - roc_auc_score(test.labels, theirs)) < 0.02


def test_distributed_training_needs_a_cluster():
    with pytest.raises(ConfigError, match="give --cluster"), \
            fitting_on(ClusterChoice("none"), distributed=True):
        pass


@pytest.mark.slow
def test_the_training_pipeline_on_a_worker_gives_the_local_model(simulated_set,
                                                                 trained_model, dask_runner):
    frame, _, _ = simulated_set
    config = load_config()
    config = config.model_copy(update={
        "split": config.split.model_copy(update={"backtest_folds": 0})})
    with fitting_with(dask_runner.client):
        model = train_and_evaluate(frame, config).model
    assert model.booster.model_to_string() == trained_model.booster.model_to_string()
