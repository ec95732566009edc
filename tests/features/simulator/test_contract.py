"""The simulated tables follow the source-data contract and the simulator's own promises."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from features.simulator import KEY_FEATURES, SimulationConfig, SimulationSummary, simulate
from features.sources.contract import renewal_grace_days

TS = pa.timestamp("us", tz="UTC")
S, F, B, INT = pa.string(), pa.float64(), pa.bool_(), pa.int64()
EXPECTED = {
    "accounts": [("account_id", S), ("created_at", TS), ("name", S), ("segment", S),
                 ("industry", S), ("region", S), ("csm_owner", S)],
    "subscriptions": [("subscription_id", S), ("account_id", S), ("start_date", TS),
                      ("end_date", TS), ("arr", F), ("seats", INT), ("plan", S),
                      ("auto_renew", B)],
    "usage_events": [("account_id", S), ("timestamp", TS), ("event_type", S),
                     ("user_id", S), ("quantity", F)],
    "tickets": [("ticket_id", S), ("account_id", S), ("opened_at", TS), ("closed_at", TS),
                ("priority", S), ("category", S), ("csat", F), ("escalated", B),
                ("first_response_minutes", F)],
    "surveys": [("account_id", S), ("responded_at", TS), ("kind", S), ("score", F),
                ("comment", S)],
    "csm_notes": [("account_id", S), ("noted_at", TS), ("sentiment", S), ("text", S)],
}  # fmt: skip
TIME_COLUMNS = {
    "accounts": ["created_at"], "subscriptions": ["start_date", "end_date"],
    "usage_events": ["timestamp"], "tickets": ["opened_at", "closed_at"],
    "surveys": ["responded_at"], "csm_notes": ["noted_at"],
}  # fmt: skip
END = pd.Timestamp("2025-06-30", tz="UTC")  # small_config.end
WINDOW_END = END + pd.Timedelta(days=1)


@pytest.mark.parametrize("table", list(EXPECTED))
def test_columns_and_types_match_the_contract(small_run: SimulationSummary, table: str) -> None:
    schema = pq.read_schema(small_run.out / f"{table}.parquet")
    assert [(f.name, f.type) for f in schema] == EXPECTED[table]


@pytest.mark.parametrize("table", list(EXPECTED))
def test_nothing_is_dated_after_the_end(small_tables: dict[str, pd.DataFrame], table: str) -> None:
    frame = small_tables[table]
    assert len(frame) > 0
    for column in TIME_COLUMNS[table]:
        if table == "subscriptions" and column == "end_date":
            continue  # a term in force at the end legitimately ends later
        assert frame[column].max() < WINDOW_END, column


def test_no_record_before_its_account_exists(small_tables: dict[str, pd.DataFrame]) -> None:
    created = small_tables["accounts"].set_index("account_id")["created_at"]
    for table in ("usage_events", "tickets", "surveys", "csm_notes"):
        column = TIME_COLUMNS[table][0]
        frame = small_tables[table]
        assert (frame[column] >= frame["account_id"].map(created)).all(), table
    subs = small_tables["subscriptions"]
    first_start = subs.groupby("account_id")["start_date"].min()
    assert (first_start >= created.reindex(first_start.index)).all()
    assert set(subs["account_id"]) == set(created.index)


def test_subscriptions_are_terms_with_renewals_inside_grace(
    small_tables: dict[str, pd.DataFrame],
) -> None:
    subs = small_tables["subscriptions"].sort_values(["account_id", "start_date"])
    assert subs["subscription_id"].is_unique
    assert (subs["end_date"] > subs["start_date"]).all()
    assert (subs["start_date"] <= END).all()
    assert (subs["arr"] >= 0).all() and (subs["seats"] >= 1).all()
    assert (subs["start_date"] == subs["start_date"].dt.normalize()).all()
    previous_end = subs.groupby("account_id")["end_date"].shift()
    gap = (subs["start_date"] - previous_end).dt.days.dropna()
    assert gap.between(0, 30).all()
    assert (gap > 0).any(), "some renewals should be late"
    assert (gap == 0).mean() > 0.5, "most renewals should be on time"
    assert set(subs["plan"]) <= {"starter", "growth", "enterprise"}
    assert subs["auto_renew"].any() and not subs["auto_renew"].all()


def test_accounts_look_like_a_customer_base(small_tables: dict[str, pd.DataFrame]) -> None:
    accounts = small_tables["accounts"]
    assert accounts["account_id"].str.fullmatch(r"A\d{5}").all()
    assert accounts["account_id"].is_unique
    assert set(accounts["segment"]) == {"smb", "mid_market", "enterprise"}
    assert set(accounts["region"]) <= {"NA", "EMEA", "APAC", "LATAM"}
    start = pd.Timestamp("2023-01-01", tz="UTC")  # small_config.start
    assert (accounts["created_at"] < start).any()
    assert (accounts["created_at"] >= start).any()
    books = accounts.groupby(["segment", "csm_owner"]).size()
    assert books["smb"].between(40, 140).all()
    assert books["enterprise"].between(5, 35).all()
    assert accounts.groupby("csm_owner")["segment"].nunique().max() == 1


def test_usage_events_follow_their_grain(small_tables: dict[str, pd.DataFrame]) -> None:
    usage = small_tables["usage_events"]
    assert set(usage["event_type"]) == {"login", "session_minutes", *KEY_FEATURES}
    login = usage["event_type"] == "login"
    assert usage.loc[login, "user_id"].notna().all()
    assert usage.loc[~login, "user_id"].isna().all()
    assert usage.loc[login, "user_id"].str.fullmatch(r"A\d{5}-u\d{3}").all()
    assert (usage["quantity"] >= 0).all()
    assert (usage.loc[login, "quantity"] >= 1).all()
    # daily aggregates at most once per account, day and type, except the duplicated rows
    daily = usage[~login].groupby(["account_id", "timestamp", "event_type"]).size()
    assert 0 < (daily > 1).mean() < 0.01
    # weekly seasonality: weekdays are much busier than weekends
    weekday = usage.loc[login, "timestamp"].dt.day_of_week
    assert (weekday < 5).mean() > 0.85


def test_tickets(small_tables: dict[str, pd.DataFrame]) -> None:
    tickets = small_tables["tickets"]
    assert tickets["ticket_id"].is_unique
    closed = tickets["closed_at"].notna()
    assert (tickets.loc[closed, "closed_at"] > tickets.loc[closed, "opened_at"]).all()
    assert 0 < (~closed).sum() < 0.05 * len(tickets)
    assert set(tickets["priority"]) == {"low", "normal", "high", "urgent"}
    assert tickets["csat"].dropna().between(1, 5).all()
    assert 0.2 < tickets["csat"].notna().mean() < 0.7
    assert tickets.loc[~closed, "csat"].isna().all()
    assert (tickets["first_response_minutes"] >= 0).all()
    assert 0 < tickets["escalated"].mean() < 0.2


def test_surveys_and_notes(small_tables: dict[str, pd.DataFrame]) -> None:
    surveys = small_tables["surveys"]
    assert set(surveys["kind"]) == {"nps", "csat"}
    nps = surveys.loc[surveys["kind"] == "nps", "score"]
    csat = surveys.loc[surveys["kind"] == "csat", "score"]
    assert nps.between(0, 10).all() and (nps == nps.round()).all()
    assert csat.between(1, 5).all()
    assert 0.1 < surveys["comment"].notna().mean() < 0.8
    notes = small_tables["csm_notes"]
    assert set(notes["sentiment"]) == {"red", "yellow", "green"}
    assert notes["text"].str.len().between(5, 200).all()


def test_truth_files(small_tables: dict[str, pd.DataFrame]) -> None:
    terms, subs = small_tables["truth_terms"], small_tables["subscriptions"]
    assert sorted(terms["subscription_id"]) == sorted(subs["subscription_id"])
    after_end = terms["end_date"] > END
    assert terms.loc[after_end, "p_churn"].isna().all()
    assert terms.loc[~after_end, "p_churn"].between(0, 1).all()
    # A term is resolved when its grace has passed (30 days on an annual term, 7 on a
    # monthly one), or as soon as the next term has started: a signed renewal is known
    # even within the grace.
    followed = terms.sort_values("start_date").groupby("account_id")["start_date"].shift(-1)
    followed = followed.reindex(terms.index).notna()
    length = (terms["end_date"] - terms["start_date"]).dt.days.to_numpy()
    grace = pd.to_timedelta(renewal_grace_days(length, 30), unit="D")
    unresolved = (terms["end_date"] + grace > END) & ~followed
    assert terms.loc[unresolved, "churned"].isna().all()
    assert terms.loc[~unresolved, "churned"].notna().all()
    assert (terms.loc[followed, "churned"] == False).all()  # noqa: E712
    assert set(terms["cause"].dropna()) <= {
        "none", "poor_onboarding", "champion_left", "product_fit", "support_crisis",
        "budget_cut", "acquired",
    }  # fmt: skip
    churned = terms["churned"].eq(True)
    assert (terms.loc[churned, "next_arr"] == 0).all()
    # a churned account has no later term
    last_start = subs.groupby("account_id")["start_date"].max()
    churned_terms = terms[churned]
    assert (churned_terms["start_date"] == churned_terms["account_id"].map(last_start)).all()


def test_dataset_json(small_run: SimulationSummary, small_config: SimulationConfig) -> None:
    meta = json.loads((small_run.out / "dataset.json").read_text())
    assert meta["name"] == "simulated"
    assert meta["data_end"] == "2025-06-30"
    assert meta["seed"] == 11
    assert meta["generator"] == "churnlens simulate"
    assert SimulationConfig.model_validate(meta["config"]) == small_config


def test_summary_reports_rows_and_paths(small_run: SimulationSummary) -> None:
    for name, path in small_run.paths.items():
        assert path.exists(), name
    assert (
        small_run.rows["usage_events"] == pq.read_metadata(small_run.paths["usage_events"]).num_rows
    )
    assert small_run.elapsed_seconds > 0


def test_csv_output_matches_parquet_output(tmp_path: Path) -> None:
    config = SimulationConfig(
        n_accounts=40, start=dt.date(2024, 1, 1), end=dt.date(2024, 12, 31), seed=3
    )
    calls: list[tuple[int, int]] = []
    simulate(config.model_copy(update={"chunk_size": 15}), tmp_path / "csv", "csv",
             progress=lambda done, total: calls.append((done, total)))  # fmt: skip
    simulate(config, tmp_path / "pq", "parquet")
    assert calls == [(15, 40), (30, 40), (40, 40)]
    for table in EXPECTED:
        from_csv = pd.read_csv(tmp_path / "csv" / f"{table}.csv")
        from_parquet = pd.read_parquet(tmp_path / "pq" / f"{table}.parquet")
        assert list(from_csv.columns) == [name for name, _ in EXPECTED[table]]
        assert len(from_csv) == len(from_parquet), table
        for column in TIME_COLUMNS[table]:
            parsed = pd.to_datetime(from_csv[column], utc=True)
            expected = from_parquet[column]
            assert ((parsed == expected) | (parsed.isna() & expected.isna())).all(), column
    assert (tmp_path / "csv" / "_truth" / "terms.parquet").exists()


def test_config_is_strict() -> None:
    with pytest.raises(ValidationError):
        SimulationConfig.model_validate({"n_acounts": 10})
    with pytest.raises(ValidationError):
        SimulationConfig(start=dt.date(2024, 1, 1), end=dt.date(2024, 2, 1))
    with pytest.raises(ValidationError):
        SimulationConfig.model_validate({"segments": {"smb": {"share": 0.9}}})
