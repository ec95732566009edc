"""The baselines are fair: a health score that works on whatever families exist, and a
logistic regression prepared as practitioners prepare one."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from features.point_in_time.catalog import feature
from training.baselines import HEALTH_RULES, LogisticBaseline, health_score


def test_the_health_score_ranks_on_usage_alone(simulated_set):
    """No tickets, surveys or notes: the score rescales over the usage rules and still
    ranks churn, never one constant."""
    frame, _, _ = simulated_set
    labelled = frame[frame["churned"].notna()]
    others = [r.feature for r in HEALTH_RULES if feature(r.feature).family != "usage"]
    usage_only = labelled.drop(columns=others)
    health = health_score(usage_only)
    assert len(np.unique(health)) > 5 and health.min() >= 0 and health.max() <= 100
    # A rule-based score ranks weakly (0.56 on this base), but better than chance.
    assert roc_auc_score(usage_only["churned"].astype(bool), -health) > 0.53


def _heavy_tailed(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Sessions per account span four orders of magnitude and churn follows their log,
    as usage counts do; a share in [0, 1] and a signed trend ride along."""
    rng = np.random.default_rng(seed)
    sessions = np.floor(rng.lognormal(3.0, 1.8, n))
    share = rng.random(n)
    trend = rng.normal(0, 30, n)
    logit = 2.0 - 0.9 * np.log1p(sessions) + 0.5 * (share - 0.5)
    churned = rng.random(n) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame({"logins_28d": sessions, "license_utilisation_28d": share,
                         "active_users_trend_pct": trend}), churned


def test_the_logistic_baseline_logs_counts_and_ranks_better_for_it():
    x, y = _heavy_tailed(4000, 1)
    test_x, test_y = _heavy_tailed(4000, 2)
    baseline = LogisticBaseline(list(x.columns), []).fit(x, y)
    # Counts reaching past 1 are logged; a share and a signed trend are left as they are.
    assert baseline.logged == ["logins_28d"]
    plain = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                          LogisticRegression(C=0.1, max_iter=3000)).fit(x, y)
    logged_auc = roc_auc_score(test_y, baseline.predict_proba(test_x))
    plain_auc = roc_auc_score(test_y, plain.predict_proba(test_x)[:, 1])
    assert logged_auc > plain_auc + 0.02, (logged_auc, plain_auc)


def test_the_logistic_baseline_imputes_with_indicators():
    x, y = _heavy_tailed(2000, 3)
    x.loc[x.index[::3], "logins_28d"] = np.nan  # missing for a third of the rows
    baseline = LogisticBaseline(list(x.columns), []).fit(x, y)
    p = baseline.predict_proba(x)
    assert np.isfinite(p).all() and 0 < p.min() < p.max() < 1
    coefficients = baseline.pipeline[-1].coef_.ravel()
    assert len(coefficients) == 4, "three features and one missing indicator"
