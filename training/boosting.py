"""Where a booster is fitted: here, on one Dask worker, or across the workers.

`churnlens train --cluster X` fits each booster on one worker of the cluster (the rows
are sent to it): the same plain LightGBM call with the same deterministic parameters, so
the model is exactly the one a local fit gives. `--distributed-train` fits it across the
workers with `lightgbm.dask` (data-parallel trees), which LightGBM documents with limits
that hold here too: no early stopping, so every booster grows `lightgbm.n_estimators`
trees (lower it in the training config), and the trees differ from a local fit's within
a tolerance, since each worker bins its own rows.

The choice is ambient for the length of a command (`fitting_on`), so the training
pipeline calls `fit_booster` the same way wherever it runs.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, cast

import lightgbm as lgb
import numpy as np

from features.distributed.cluster import ClusterChoice, OnDask, bucket_runner
from features.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fitting:
    client: Any | None = None  # a distributed.Client; None: fit here
    distributed: bool = False


_fitting: ContextVar[Fitting | None] = ContextVar("fitting", default=None)  # None: here


@contextmanager
def fitting_on(choice: ClusterChoice, distributed: bool = False) -> Iterator[None]:
    """Fit every booster of the block on `choice`'s cluster (across it: `distributed`)."""
    if choice.kind == "none":
        if distributed:
            raise ConfigError("--distributed-train spreads a fit over Dask workers: give "
                              "--cluster local[:N] or tcp://HOST:8786 too.")
        yield
        return
    with bucket_runner(choice) as runner, fitting_with(cast(OnDask, runner).client,
                                                        distributed):
        yield


@contextmanager
def fitting_with(client: Any, distributed: bool = False) -> Iterator[None]:
    """Fit every booster of the block with a connected dask.distributed `client`."""
    token = _fitting.set(Fitting(client, distributed))
    try:
        yield
    finally:
        _fitting.reset(token)


@dataclass(frozen=True)
class Rows:
    """A booster's training rows: the encoded matrix, labels and weights."""

    matrix: np.ndarray
    labels: np.ndarray
    weight: np.ndarray | None = None


def fit_booster(params: dict[str, Any], train: Rows, valid: Rows | None,
                names: Sequence[str], categorical: Sequence[int], rounds: int,
                patience: int = 0) -> lgb.Booster:
    """A booster on `train` of `rounds` trees, or with `valid`, stopped early on its log
    loss after `patience` rounds without gain where the fit allows it, holding only its
    trees up to the best iteration."""
    fitting = _fitting.get()
    if fitting is None or fitting.client is None:
        return boost(params, train, valid, names, categorical, rounds, patience)
    if not fitting.distributed:  # the rows go to a worker first, not inside the task
        rows = fitting.client.scatter([train, valid], hash=False)
        future = fitting.client.submit(boost, params, *rows, list(names), list(categorical),
                                       rounds, patience, pure=False)
        return future.result()
    return _boost_across(fitting.client, params, train, names, categorical, rounds)


def boost(params: dict[str, Any], train: Rows, valid: Rows | None, names: Sequence[str],
          categorical: Sequence[int], rounds: int, patience: int = 0) -> lgb.Booster:
    """The local fit: plain LightGBM (a task of its own on a worker)."""
    data = lgb.Dataset(train.matrix, train.labels, weight=train.weight,
                       feature_name=list(names), categorical_feature=list(categorical),
                       free_raw_data=False)
    if valid is None:
        return lgb.train(params, data, num_boost_round=rounds)
    checked = lgb.Dataset(valid.matrix, valid.labels, reference=data)
    booster = lgb.train(params, data, num_boost_round=rounds, valid_sets=[checked],
                        valid_names=["validation"],
                        callbacks=[lgb.early_stopping(patience, verbose=False)])
    best = booster.best_iteration or booster.current_iteration()
    return lgb.Booster(model_str=booster.model_to_string(num_iteration=best))


def _boost_across(client: Any, params: dict[str, Any], train: Rows, names: Sequence[str],
                  categorical: Sequence[int], rounds: int) -> lgb.Booster:
    """`lightgbm.dask` over the cluster's workers: `rounds` trees, no early stopping."""
    from lightgbm.dask import DaskLGBMClassifier

    workers = max(1, len(client.scheduler_info().get("workers", {})))
    step = max(1, math.ceil(len(train.labels) / workers))
    features, target = _scattered(client, train.matrix, step), _scattered(client, train.labels,
                                                                         step)
    weight = None if train.weight is None else _scattered(client, train.weight, step)
    kept = {k: v for k, v in params.items() if k not in ("objective", "num_threads")}
    model = DaskLGBMClassifier(client=client, n_estimators=rounds, tree_learner="data",
                               **kept)
    with warnings.catch_warnings():
        # the sklearn wrapper always passes n_jobs; lightgbm.dask sets threads per worker
        warnings.filterwarnings("ignore", message="Parameter n_jobs will be ignored")
        model.fit(features, target, sample_weight=weight, feature_name=list(names),
                  categorical_feature=list(categorical))
    log.info("fitted %d trees across %d Dask workers (no early stopping)", rounds, workers)
    return model.to_local().booster_


def _scattered(client: Any, values: np.ndarray, step: int) -> Any:
    """`values` as a dask array of `step`-row chunks sent to the workers beforehand (a
    graph holding the rows themselves would be shipped with every call)."""
    import dask
    import dask.array as da

    parts = [values[lo:lo + step] for lo in range(0, len(values), step)]
    futures = client.scatter(parts)
    return da.concatenate([da.from_delayed(dask.delayed(future), shape=part.shape,
                                           dtype=part.dtype)
                           for future, part in zip(futures, parts, strict=True)])
