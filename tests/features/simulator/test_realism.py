"""Behaviour a churn model should find: rates in plausible bands, signals that move with
risk, an oracle that is good but not perfect. Bands come from the product brief (gross
logo churn 8-20% a year, SMB worst; NRR 95-115%; oracle AUC 0.75-0.95), not from output.
"""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from features.simulator import SimulationConfig, SimulationSummary, simulate, simulate_truth
from features.simulator.config import SegmentsConfig
from features.simulator.metrics import annual_logo_churn, net_revenue_retention

SHOCKS = {"poor_onboarding", "champion_left", "product_fit", "support_crisis", "budget_cut",
          "acquired"}  # fmt: skip


def _equal_segments() -> SegmentsConfig:
    """Default segments with equal shares, so enterprise has enough accounts to measure."""
    base = SegmentsConfig()
    return SegmentsConfig(**{
        name: getattr(base, name).model_copy(update={"share": 1 / 3})
        for name in ("smb", "mid_market", "enterprise")
    })  # fmt: skip


@pytest.fixture(scope="module")
def many_terms() -> pd.DataFrame:
    """Truth of 6,000 accounts over three years (truth only: no signals, a few seconds)."""
    terms = simulate_truth(
        SimulationConfig(n_accounts=6000, seed=2, segments=_equal_segments()), risk_as_of=False
    ).terms
    return terms.to_pandas()


@pytest.fixture(scope="module")
def default_terms() -> pd.DataFrame:
    terms = simulate_truth(SimulationConfig(n_accounts=3000, seed=3), risk_as_of=False).terms
    return terms.to_pandas()


def test_logo_churn_per_segment_is_in_band_and_ordered(many_terms: pd.DataFrame) -> None:
    churn = annual_logo_churn(many_terms)
    assert churn.between(0.08, 0.20).all(), churn.to_dict()
    assert churn["smb"] > churn["mid_market"] > churn["enterprise"], churn.to_dict()


def test_default_mix_churn_and_nrr(default_terms: pd.DataFrame) -> None:
    overall = annual_logo_churn(default_terms, by=None)["all"]
    assert 0.08 <= overall <= 0.20
    data_end = pd.Timestamp("2026-01-01", tz="UTC")
    nrr = net_revenue_retention(default_terms, data_end)
    assert 0.95 <= nrr <= 1.15, nrr


def test_oracle_auc_is_good_but_not_perfect(many_terms: pd.DataFrame) -> None:
    resolved = many_terms[many_terms["churned"].notna()]
    auc = roc_auc_score(resolved["churned"].astype(bool), resolved["p_churn"])
    assert 0.75 <= auc <= 0.95, auc


def test_some_churn_is_unforeseeable(many_terms: pd.DataFrame) -> None:
    churned = many_terms[many_terms["churned"].eq(True)]
    share = churned["cause"].isin(["budget_cut", "acquired"]).mean()
    assert 0.05 <= share <= 0.4, share
    assert churned["cause"].eq("none").mean() < 0.7


def test_truth_only_run_matches_full_run(
    small_config: SimulationConfig, small_tables: dict[str, pd.DataFrame]
) -> None:
    terms, shocks, risk_as_of = simulate_truth(small_config)
    pd.testing.assert_frame_equal(terms.to_pandas(), small_tables["truth_terms"])
    pd.testing.assert_frame_equal(shocks.to_pandas(), small_tables["truth_shocks"])
    assert risk_as_of is not None
    pd.testing.assert_frame_equal(risk_as_of.to_pandas(), small_tables["truth_risk_as_of"])


def test_every_shock_type_occurs(small_tables: dict[str, pd.DataFrame]) -> None:
    assert set(small_tables["truth_shocks"]["shock_type"]) == SHOCKS


def _window(frame: pd.DataFrame, column: str, terms: pd.DataFrame, days: int) -> pd.DataFrame:
    """Rows of ``frame`` in the ``days`` before each term's end, tagged with the term."""
    merged = frame.merge(terms[["subscription_id", "account_id", "end_date"]], on="account_id")
    lo = merged["end_date"] - pd.Timedelta(days=days)
    return merged[(merged[column] >= lo) & (merged[column] < merged["end_date"])]


@pytest.fixture(scope="module")
def signal_tables(small_config: SimulationConfig, tmp_path_factory: pytest.TempPathFactory
                  ) -> dict[str, pd.DataFrame]:
    """1,500 accounts of the small period: enough churned terms with an NPS answer
    (about 150) that a gap in means is measured, not drawn (300 accounts give ~30)."""
    run = simulate(small_config.model_copy(update={"n_accounts": 1500, "chunk_size": 500}),
                   tmp_path_factory.mktemp("signals"))
    frames = {name: pd.read_parquet(run.out / f"{name}.parquet")
              for name in ("subscriptions", "usage_events", "tickets", "surveys")}
    frames["truth_terms"] = pd.read_parquet(run.out / "_truth" / "terms.parquet")
    return frames


@pytest.fixture(scope="module")
def term_signals(signal_tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per resolved term: licence utilisation, tickets and NPS before its end date."""
    small_tables = signal_tables
    terms = small_tables["truth_terms"]
    terms = terms[terms["churned"].notna()].merge(
        small_tables["subscriptions"][["subscription_id", "seats"]], on="subscription_id"
    )
    usage = small_tables["usage_events"]
    logins = _window(usage[usage["event_type"] == "login"], "timestamp", terms, 90)
    users = logins.groupby("subscription_id")["user_id"].nunique()
    tickets = _window(small_tables["tickets"], "opened_at", terms, 90)
    surveys = small_tables["surveys"]
    nps = _window(surveys[surveys["kind"] == "nps"], "responded_at", terms, 365)
    out = terms.set_index("subscription_id")[["churned", "seats"]].copy()
    out["utilisation"] = users.reindex(out.index).fillna(0) / out["seats"]
    out["tickets"] = tickets.groupby("subscription_id").size().reindex(out.index).fillna(0)
    out["nps"] = nps.groupby("subscription_id")["score"].mean().reindex(out.index)
    out["churned"] = out["churned"].astype(bool)
    return out


def test_churning_terms_use_less(term_signals: pd.DataFrame) -> None:
    means = term_signals.groupby("churned")["utilisation"].mean()
    assert means[True] < means[False] - 0.05, means.to_dict()


def test_churning_terms_open_more_tickets(term_signals: pd.DataFrame) -> None:
    means = term_signals.groupby("churned")["tickets"].mean()
    assert means[True] > 1.1 * means[False], means.to_dict()


def test_churning_terms_score_lower_nps(term_signals: pd.DataFrame) -> None:
    means = term_signals.groupby("churned")["nps"].mean()
    assert means[True] < means[False] - 0.5, means.to_dict()


def test_unhappy_customers_answer_fewer_surveys(tmp_path_factory: pytest.TempPathFactory) -> None:
    """With response_bias > 0 the answering share falls with health; flipping it reverses."""
    import datetime as dt

    from features.simulator import simulate
    from features.simulator.config import SurveyConfig

    def responses_per_churner_vs_renewer(bias: float) -> float:
        config = SimulationConfig(
            n_accounts=150, start=dt.date(2024, 1, 1), end=dt.date(2025, 6, 30), seed=4,
            surveys=SurveyConfig(response_bias=bias, nps_per_year=6.0),
        )  # fmt: skip
        summary: SimulationSummary = simulate(config, tmp_path_factory.mktemp(f"bias{bias}"))
        terms = pd.read_parquet(summary.truth_paths["terms"])
        terms = terms[terms["churned"].notna() & (terms["p_churn"] > 0)]
        surveys = pd.read_parquet(summary.paths["surveys"])
        answered = _window(surveys, "responded_at", terms, 180).groupby("subscription_id").size()
        per_term = answered.reindex(terms["subscription_id"]).fillna(0).to_numpy()
        risky = terms["p_churn"].to_numpy() > terms["p_churn"].median()
        return float(per_term[risky].mean() / per_term[~risky].mean())

    assert responses_per_churner_vs_renewer(2.0) < responses_per_churner_vs_renewer(-2.0)
