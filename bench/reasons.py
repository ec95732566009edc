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
accounts: the share whose top reason is the most common feature, and signal.

    CHURNLENS_HOME=workspace .venv/bin/python bench/reasons.py [--dates 2025-02-01 ...]

Targets (issue 15): the top 3 name the cause for >= 80% of such terms and >= 60% per
cause; no signal is the top reason of more than 25% of high-risk accounts.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections import Counter

import pandas as pd

from features.point_in_time.artifacts import latest_training_set, read_training_set
from features.settings import get_settings
from features.simulator.events import SHOCK_TYPES
from features.simulator.fingerprints import VISIBLE_DAYS
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
        signals = Counter(top_signals[i][0] for i in high)
        (feature, f_count), = features.most_common(1)
        (signal, s_count), = signals.most_common(1)
        print(f"high-risk snapshots: {len(high)}; most common top reason: {feature} "
              f"({f_count / len(high):.0%}); most common top signal: {signal} "
              f"({s_count / len(high):.0%}, target <= {TARGET_CONCENTRATION:.0%})")
        print("  top signals: " + _shares(signals, len(high)))
        causes = Counter(str(c) for c in rows.loc[high, "subscription_id"].map(
            terms.set_index("subscription_id")["cause"]))
        print("  true causes of their terms: " + _shares(causes, len(high)))
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
