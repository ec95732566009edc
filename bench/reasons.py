"""Benchmark whether the champion's reasons name the true cause of churn.

On a simulated workspace (`make demo`, or `churnlens simulate/build/train`), the
champion's strict cutoff model (the one its refit came from, which learnt no label of
these dates) explains every snapshot of the training set at the `--dates` given, as
`churnlens score` would. For churned terms whose cause left a trace visible at the
snapshot (the shock happened long enough before as_of for its fingerprint to show, and
not so long that it had faded: `fingerprints.VISIBLE_DAYS`), it
counts how often the signals of the top-3 reasons include the cause's signal
(`CAUSE_SIGNALS`, the one place that maps causes to signals), overall, per cause and per
days-to-renewal. It also prints how concentrated the top reason is among high-risk
accounts: the share whose top reason is the most common feature, and signal, with a 90%
interval over accounts drawn again, and the floor the true causes set: the share the
most common cause's signal would take if every high-risk snapshot (open terms too)
had as its top reason the shock that lowers its health most at as_of.

    CHURNLENS_HOME=workspace .venv/bin/python bench/reasons.py [--dates 2025-02-01 ...]

Targets (issue 15): the top 3 name the cause for >= 80% of such terms and >= 60% per
cause; no signal is the top reason of more than 25% of high-risk accounts.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import Counter

import numpy as np
import pandas as pd

from features.point_in_time.artifacts import latest_training_set, read_training_set
from features.settings import get_settings
from features.simulator.config import SimulationConfig
from features.simulator.events import SHOCK_TYPES
from features.simulator.fingerprints import VISIBLE_DAYS
from features.simulator.health import shock_config, shock_profile
from features.simulator.runner import DATASET_FILE
from serving.risk import RiskScore, explain_matrix
from training.evaluation import DTR_BUCKETS, dtr_bucket
from training.registry import champion_version, load_comparable
from training.tracking import mlflow_client, quiet_mlflow

log = logging.getLogger("bench.reasons")

# The signal whose reasons name each observable cause.
CAUSE_SIGNALS: dict[str, str] = {
    "champion_left": "executive_sponsor",
    "product_fit": "feature_adoption",
    "poor_onboarding": "seat_adoption",
    "support_crisis": "support_load",
}
TOP = 3
# Eight monthly snapshots that none of the default cutoff split's training or validation
# rows reach (their labels are known by late 2024), so the rare causes
# (onboarding, support crisis) are counted more than a handful of times.
DATES = [f"2025-{m:02d}-01" for m in range(2, 10)]
# A shock whose latent-health drop at as_of is at least this (two thirds of the spread of
# the accounts' baseline health) is what makes the account red, whether or not its first
# trace has faded.
LIVE_DROP = 0.5
TARGET_OVERALL, TARGET_PER_CAUSE, TARGET_CONCENTRATION = 0.80, 0.60, 0.25


def visible_cause(rows: pd.DataFrame, terms: pd.DataFrame, shocks: pd.DataFrame) -> pd.Series:
    """Each snapshot's true cause where it is observable at its as_of, else None."""
    cause = rows["subscription_id"].map(terms.set_index("subscription_id")["cause"])
    out = pd.Series(None, index=rows.index, dtype=object)
    for kind in CAUSE_SIGNALS:
        mine = shocks[shocks["shock_type"] == kind][["account_id", "date"]]
        first, last = VISIBLE_DAYS[SHOCK_TYPES.index(kind)]
        candidates = rows[cause == kind][["account_id", "as_of"]].reset_index()
        pairs = candidates.merge(mine, on="account_id")
        age = (pairs["as_of"] - pairs["date"]).dt.days
        seen = pairs[age.between(first, last)]["index"].unique()
        out.loc[seen] = kind
    return out


def concentration(signals: pd.Series, accounts: pd.Series, draws: int = 1000
                  ) -> tuple[float, float, float]:
    """The most common top signal's share, and its 90% interval when accounts (each with
    its snapshots at every date) are drawn again: the high band is a few dozen accounts."""
    share = float(signals.value_counts(normalize=True).iloc[0])
    ids = accounts.unique()
    groups = {a: signals[accounts == a].tolist() for a in ids}
    rng = np.random.default_rng(0)
    shares = []
    for _ in range(draws):
        drawn = [s for a in rng.choice(ids, len(ids)) for s in groups[a]]
        shares.append(Counter(drawn).most_common(1)[0][1] / len(drawn))
    low, high = np.quantile(shares, [0.05, 0.95])
    return share, float(low), float(high)


def dominant_shock(rows: pd.DataFrame, shocks: pd.DataFrame, config: SimulationConfig
                   ) -> pd.Series:
    """Each snapshot's shock (of `CAUSE_SIGNALS`' kinds) that lowers the account's latent
    health most at its as_of, by the simulator's own shock profile, or None when none
    lowers it by `LIVE_DROP` or more. A product-fit drop keeps 60% of its force for
    years, so an old shock can still be what makes an account red."""
    mine = shocks[shocks["shock_type"].isin(list(CAUSE_SIGNALS))]
    pairs = rows[["account_id", "as_of"]].reset_index().merge(mine, on="account_id")
    pairs["age"] = (pairs["as_of"] - pairs["date"]).dt.days
    pairs = pairs[pairs["age"] >= 0]
    if pairs.empty:
        return pd.Series(None, index=rows.index, dtype=object)
    profiles = {kind: shock_profile(shock_config(config, SHOCK_TYPES.index(kind)),
                                    int(pairs["age"].max()) + 1)
                for kind in pairs["shock_type"].unique()}
    pairs["drop"] = [-profiles[k][a] for k, a in zip(pairs["shock_type"], pairs["age"],
                                                       strict=True)]
    live = pairs[pairs["drop"] >= LIVE_DROP].sort_values("drop", ascending=False)
    top = live.drop_duplicates("index").set_index("index")["shock_type"]
    return pd.Series([top.get(i) for i in rows.index], index=rows.index, dtype=object)


def cause_floor(top: pd.Series, dominant: pd.Series) -> tuple[str, int, int, int]:
    """(signal, its snapshots, snapshots with a dominant shock, of them named first): the
    signal that would be the top reason most often if every high-risk snapshot had the
    signal of its dominant shock first (no ranking whose top reason names the live cause
    concentrates less), and how many do."""
    signal_of = dominant.dropna().map(CAUSE_SIGNALS)
    if signal_of.empty:
        return "none", 0, 0, 0
    signal, count = Counter(signal_of).most_common(1)[0]
    return signal, count, len(signal_of), int((top[signal_of.index] == signal_of).sum())


def explain(rows: pd.DataFrame) -> list[RiskScore]:
    quiet_mlflow()
    client = mlflow_client()
    champion = champion_version(client)
    if champion is None:
        sys.exit("no champion: run `churnlens train` first")
    version = str(champion.version)
    # A refitted champion has learnt these snapshots' labels; its strict model has not.
    model = load_comparable(client, version)
    log.info("explaining %d snapshots with model version %s", len(rows), version)
    matrix = model.contract.encode(rows)
    values = rows[list(model.contract.names)].to_dict("records")
    keys = list(zip(rows["account_id"], rows["as_of"].dt.date, strict=True))
    return explain_matrix(model, version, matrix, values, keys, top=TOP)


def _share(hits: pd.Series) -> str:
    return f"{hits.mean():.0%} of {len(hits)}" if len(hits) else "n/a"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dates", nargs="+", default=DATES,
                        help="snapshot dates to explain (monthly snapshots of the training set)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = get_settings()
    frame, _ = read_training_set(latest_training_set())
    dates = pd.to_datetime(args.dates, utc=True)
    rows = frame[frame["as_of"].isin(dates)].reset_index(drop=True)
    if rows.empty:
        log.error("no snapshots at %s in the training set; pick monthly dates it covers",
                  ", ".join(args.dates))
        return 2
    truth = settings.sources_dir / "_truth"
    terms = pd.read_parquet(truth / "terms.parquet")
    shocks = pd.read_parquet(truth / "shocks.parquet")
    dataset = json.loads((settings.sources_dir / DATASET_FILE).read_text(encoding="utf-8"))
    config = SimulationConfig.model_validate(dataset["config"])
    scores = explain(rows)
    top_signals = [[r.signal for r in s.reasons] for s in scores]
    rows["cause"] = visible_cause(rows, terms, shocks)
    rows["band"] = [s.band for s in scores]
    rows["dtr"] = dtr_bucket(rows["days_to_renewal"])

    churned = rows[(rows["churned"] == True) & rows["cause"].notna()]  # noqa: E712
    named = pd.Series([CAUSE_SIGNALS[c] in top_signals[i]
                       for i, c in churned["cause"].items()], index=churned.index, dtype=bool)
    print(f"snapshots at {', '.join(args.dates)}: {len(rows)}; churned with a visible cause: "
          f"{len(churned)}")
    print(f"top-{TOP} reasons name the cause: {_share(named)} (target {TARGET_OVERALL:.0%})")
    for cause in CAUSE_SIGNALS:
        hits = named[churned["cause"] == cause]
        print(f"  {cause:<16} {_share(hits)} (target {TARGET_PER_CAUSE:.0%})")
    for _, _, label in DTR_BUCKETS:
        print(f"  days to renewal {label:<7} {_share(named[churned['dtr'] == label])}")

    high = [i for i, s in enumerate(scores) if s.band == "high" and s.reasons]
    if high:
        features = Counter(scores[i].reasons[0].feature for i in high)
        signals = pd.Series([top_signals[i][0] for i in high], index=high)
        (feature, f_count), = features.most_common(1)
        share, low, up = concentration(signals, rows.loc[high, "account_id"])
        print(f"high-risk snapshots: {len(high)} of {rows.loc[high, 'account_id'].nunique()} "
              f"accounts; most common top reason: {feature} ({f_count / len(high):.0%}); "
              f"most common top signal: {signals.value_counts().index[0]} ({share:.0%}, "
              f"90% interval over accounts {low:.0%}-{up:.0%}; target <= "
              f"{TARGET_CONCENTRATION:.0%})")
        print("  top signals: " + _shares(Counter(signals), len(high)))
        causes = Counter(str(c) for c in rows.loc[high, "subscription_id"].map(
            terms.set_index("subscription_id")["cause"]))
        print("  true causes of their terms: " + _shares(causes, len(high)))
        dominant = dominant_shock(rows.loc[high], shocks, config)
        floor, count, live, first = cause_floor(signals, dominant)
        print("  the shock lowering their health most: "
              + _shares(Counter(str(d) for d in dominant), len(high)))
        print(f"  with a shock lowering health by >= {LIVE_DROP} at as_of: {live}, {first} "
              f"of them with its signal as the top reason; were each named first, {floor} "
              f"would top {count / len(high):.0%}")
    # The high band is thin on a small base; the riskiest tenth shows the same on more rows.
    cut = sorted((s.probability for s in scores), reverse=True)[len(scores) // 10]
    decile = [i for i, s in enumerate(scores) if s.probability > cut and s.reasons]
    print(f"riskiest 10% of snapshots ({len(decile)}), top signals: "
          + _shares(Counter(top_signals[i][0] for i in decile), len(decile)))
    return 0


def _shares(counts: Counter[str], total: int) -> str:
    return ", ".join(f"{k} {v / total:.0%}" for k, v in counts.most_common())


if __name__ == "__main__":
    sys.exit(main())
