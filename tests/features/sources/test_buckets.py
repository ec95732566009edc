"""Account buckets: stable across processes, complete, and loaded as any source is."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import zlib

import pandas as pd
import pytest
import sqlalchemy as sa
from tiny_sources import DATA_END, tiny_tables, write_sqlite

from features.errors import ConfigError, DataContractError, SourceNotFoundError, Violation
from features.sources import partitioning
from features.sources.buckets import bucket_of, check_buckets, load_bucket, read_manifest
from features.sources.database import engine_url
from features.sources.fingerprint import digest
from features.sources.loading import load_sources
from features.sources.partitioning import partition


def test_a_bucket_is_crc32_of_the_id_and_the_same_in_every_process():
    ids = [f"A{i:05d}" for i in range(200)]
    expected = [zlib.crc32(a.encode()) % 7 for a in ids]
    assert bucket_of(ids, 7).tolist() == expected
    code = ("from features.sources.buckets import bucket_of; "
            f"print(bucket_of({ids!r}, 7).tolist())")
    for seed in ("1", "2"):  # Python's own hash would differ between these
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={**os.environ, "PYTHONHASHSEED": seed}, check=True).stdout
        assert out.strip() == str(expected)


@pytest.mark.parametrize("buckets", [1, 2, 5])
def test_the_buckets_hold_every_row_once_with_the_bases_shared_facts(tiny_dir, tmp_path,
                                                                       buckets):
    whole = load_sources(tiny_dir)
    out = tmp_path / "parts"
    manifest = partition(tiny_dir, out, buckets)
    assert read_manifest(out) == manifest
    assert (out / "usage_events").is_dir() and not list(tmp_path.glob(".*partial"))
    parts = [load_bucket(out, b) for b in range(buckets)]
    for name, frame in whole.tables.items():
        rebuilt = pd.concat([p.tables[name] for p in parts], ignore_index=True)
        key = list(frame.columns)
        left = frame.astype("str").sort_values(key).reset_index(drop=True)
        right = rebuilt.astype("str").sort_values(key).reset_index(drop=True)
        pd.testing.assert_frame_equal(left, right, check_dtype=False)
    for part, bucket in zip(parts, range(buckets), strict=True):
        assert set(bucket_of(part.accounts["account_id"], buckets)) <= {bucket}
        assert part.data_end == whole.data_end
        assert part.outcomes_known_through == whole.outcomes_known_through
        assert part.history_start() == whole.history_start()


def test_partition_refuses_an_existing_output_and_a_bad_count(tiny_dir, tmp_path):
    (tmp_path / "taken").mkdir()
    with pytest.raises(ConfigError, match="exists"):
        partition(tiny_dir, tmp_path / "taken", 3)
    with pytest.raises(ConfigError, match="from 1 to"):
        partition(tiny_dir, tmp_path / "new", 0)
    with pytest.raises(SourceNotFoundError, match="churnlens partition"):
        load_bucket(tmp_path / "taken", 0)
    partition(tiny_dir, tmp_path / "parts", 2)
    with pytest.raises(ConfigError, match="buckets 0 to 1"):
        load_bucket(tmp_path / "parts", 2)


def test_commands_that_read_a_source_whole_name_the_partitioned_one(tiny_dir, tmp_path):
    partition(tiny_dir, tmp_path / "parts", 2)
    with pytest.raises(ConfigError, match="is a partitioned source"):
        load_sources(tmp_path / "parts")
    with pytest.raises(ConfigError, match="is a partitioned source"):
        partition(tmp_path / "parts", tmp_path / "again", 2)
    with pytest.raises(SourceNotFoundError, match="does not exist"):
        partition(tmp_path / "nowhere", tmp_path / "again", 2)


def test_a_column_empty_in_one_bucket_loads_there_and_elsewhere(make_sources, tmp_path):
    # the fewest buckets that split the tiny base's accounts
    count = next(n for n in range(2, 50) if len(set(bucket_of(["A1", "A2", "A3"], n))) == 3)
    first = 0  # the first folder: its types must not become every bucket's

    def blank_in_bucket_0(tables):
        events = tables["usage_events"]
        mine = bucket_of(events["account_id"], count) == first
        events.loc[mine, "user_id"] = None
        assert events["user_id"].notna().any() and events.loc[mine, "user_id"].isna().all()

    source = make_sources(blank_in_bucket_0, fmt="parquet")
    partition(source, tmp_path / "parts", count)
    users = {b: load_bucket(tmp_path / "parts", b).tables["usage_events"]["user_id"]
             for b in range(count)}
    assert len(users[first]) and users[first].isna().all()
    assert any(u.notna().any() for b, u in users.items() if b != first)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("data_end", [DATA_END, None])
def test_the_manifest_holds_the_whole_loads_facts(make_sources, tmp_path, monkeypatch, fmt,
                                                   data_end):
    """Read in batches of two rows and flushed every three, the base's facts, added up
    bucket by bucket, are those of loading it whole."""
    monkeypatch.setattr(partitioning, "BATCH_ROWS", 2)
    monkeypatch.setattr(partitioning, "FLUSH_ROWS", 3)

    def quiet_accounts(tables):  # an account without subscription, one without usage
        tables["accounts"] = pd.concat([tables["accounts"], pd.DataFrame({
            "account_id": ["A4", "A5"], "created_at": ["2023-01-01", "2023-01-01"],
            "name": ["D", "E"], "segment": ["smb", "smb"], "industry": ["x", "x"],
            "region": ["NA", "NA"], "csm_owner": ["Ana", "Ana"]})], ignore_index=True)
        tables["subscriptions"].loc[len(tables["subscriptions"])] = [
            "S5", "A5", "2023-02-01", "2024-02-01", "10", "1", "starter", "false"]

    source = make_sources(quiet_accounts, fmt=fmt, data_end=data_end)
    whole = load_sources(source)
    manifest = partition(source, tmp_path / "parts", 3)
    assert manifest.fingerprints == whole.fingerprints()
    assert manifest.data_end == whole.data_end
    assert manifest.label_end == whole.label_end
    assert manifest.table_ends == whole.table_ends
    assert manifest.history_start == whole.history_start()
    assert manifest.first_term_start == whole.subscriptions["start_date"].min()
    assert manifest.rows == {n: len(f) for n, f in whole.tables.items()}
    assert manifest.event_counts == whole.tables["usage_events"]["event_type"] \
        .value_counts().to_dict()
    assert manifest.warnings == whole.warnings
    assert [w for w in whole.warnings if "accounts have no" in w] == [
        "1 accounts have no subscription and never enter a training set (e.g. A4).",
        "2 accounts have no usage at all (e.g. A4, A5); their usage features are zero."]


def test_fingerprints_ignore_row_order_and_see_any_change(tiny_dir):
    frame = load_sources(tiny_dir).tables["usage_events"]
    print_ = digest(frame).hexdigest()
    assert digest(frame.iloc[::-1]).hexdigest() == print_
    assert (digest(frame.iloc[:2]) + digest(frame.iloc[2:])).hexdigest() == print_
    changed = frame.copy()
    changed.loc[0, "quantity"] = changed.loc[0, "quantity"] + 1
    assert digest(changed).hexdigest() != print_
    assert digest(pd.concat([frame, frame.iloc[:1]])).hexdigest() != print_


def test_problems_of_every_bucket_are_reported_together_by_source_row(make_sources,
                                                                       tmp_path):
    def broken(tables):
        tables["usage_events"].loc[1, "timestamp"] = "not a date"  # A1's bucket
        tables["usage_events"].loc[2, "timestamp"] = "soon"  # A2's
        tables["tickets"].loc[1, "ticket_id"] = "T1"  # T1 again, for another account
        tables["surveys"].loc[0, "account_id"] = "A9"  # nobody's

    source = make_sources(broken)
    with pytest.raises(DataContractError) as whole:
        load_sources(source)
    with pytest.raises(DataContractError) as split:
        partition(source, tmp_path / "parts", 7)
    assert not (tmp_path / "parts").exists() and not list(tmp_path.glob(".*partial"))
    found = {(v.table, v.column, v.problem): v for v in split.value.violations}
    expected = {(v.table, v.column, v.problem): v for v in whole.value.violations}
    assert found.keys() == expected.keys()
    for key, violation in expected.items():
        assert found[key].count == violation.count, key
        assert sorted(found[key].examples) == sorted(violation.examples), key


def test_a_database_streams_into_buckets_with_its_whole_loads_facts(tmp_path, monkeypatch):
    """Read two rows at a time off the cursor, a database's buckets add up to its whole
    load, its values typed as reading it whole types them."""
    monkeypatch.setattr(partitioning, "BATCH_ROWS", 2)
    url = write_sqlite(tmp_path / "crm.db")
    whole = load_sources(url, DATA_END)
    manifest = partition(url, tmp_path / "parts", 3, DATA_END)
    assert manifest.fingerprints == whole.fingerprints()
    assert manifest.rows == {n: len(f) for n, f in whole.tables.items()}
    assert manifest.table_ends == whole.table_ends
    assert manifest.history_start == whole.history_start()
    assert manifest.event_counts == whole.tables["usage_events"]["event_type"] \
        .value_counts().to_dict()
    assert manifest.source == url
    bucketed = pd.concat([load_bucket(tmp_path / "parts", b).tables["usage_events"]
                          for b in range(3)], ignore_index=True)
    key = list(bucketed.columns)  # each bucket has its own categories: compare as text
    pd.testing.assert_frame_equal(
        bucketed.astype("str").sort_values(key).reset_index(drop=True),
        whole.tables["usage_events"].astype("str").sort_values(key).reset_index(drop=True))


def test_a_databases_batches_join_whatever_categories_each_holds(tmp_path, monkeypatch):
    """A batch with 150 event types stores its codes wider than one with a single type."""
    monkeypatch.setattr(partitioning, "BATCH_ROWS", 150)
    tables = tiny_tables()
    many = pd.DataFrame({"account_id": "A1", "user_id": "u1",
                         "timestamp": "2023-05-01", "quantity": "1",
                         "event_type": [f"feature_{i}" for i in range(150)] + ["login"] * 10})
    tables["usage_events"] = pd.concat([many, tables["usage_events"]], ignore_index=True)
    url = write_sqlite(tmp_path / "crm.db", tables)
    manifest = partition(url, tmp_path / "parts", 2, DATA_END)
    assert len(manifest.event_counts) == 150 + len(
        set(tiny_tables()["usage_events"]["event_type"]) - {"login"}) + 1
    assert manifest.fingerprints == load_sources(url, DATA_END).fingerprints()


def test_a_postgresql_source_streams_into_buckets_with_its_whole_loads_facts(
        postgres_url, tiny_dir, tmp_path, monkeypatch):
    """Typed columns as a real server gives them (timestamps with time zone, numbers,
    booleans), read two rows at a time off a server-side cursor."""
    monkeypatch.setattr(partitioning, "BATCH_ROWS", 2)
    typed = load_sources(tiny_dir).tables
    engine = sa.create_engine(engine_url(postgres_url))
    try:
        with engine.begin() as conn:
            for name, frame in typed.items():
                frame.to_sql(name, conn, index=False)
        whole = load_sources(postgres_url, DATA_END)
        manifest = partition(postgres_url, tmp_path / "parts", 3, DATA_END)
    finally:
        with engine.begin() as conn:
            for name in typed:
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
        engine.dispose()
    assert manifest.fingerprints == whole.fingerprints()
    assert manifest.rows == {n: len(f) for n, f in typed.items()}
    assert manifest.table_ends == whole.table_ends
    assert manifest.history_start == whole.history_start()


def test_a_databases_unparseable_values_are_named_by_row_as_a_whole_load_names_them(
        tmp_path, monkeypatch):
    monkeypatch.setattr(partitioning, "BATCH_ROWS", 2)
    tables = tiny_tables()
    tables["usage_events"] = tables["usage_events"].astype(object)
    tables["usage_events"].loc[len(tables["usage_events"]) - 1, "quantity"] = "lots"
    tables["subscriptions"] = tables["subscriptions"].astype(object)
    tables["subscriptions"].loc[2, "start_date"] = "soon"
    url = write_sqlite(tmp_path / "crm.db", tables)
    with pytest.raises(DataContractError) as whole:
        load_sources(url, DATA_END)
    with pytest.raises(DataContractError) as split:
        partition(url, tmp_path / "parts", 3, DATA_END)
    unparsed = [v.render() for v in whole.value.violations if v.problem.startswith("values")]
    assert len(unparsed) == 2
    assert [v.render() for v in split.value.violations] == unparsed
    assert not (tmp_path / "parts").exists() and not list(tmp_path.glob(".*partial"))


def test_an_empty_or_missing_table_is_refused_as_a_whole_load_refuses_it(make_sources,
                                                                          tmp_path):
    def no_surveys(tables):
        tables["surveys"] = tables["surveys"].iloc[:0]

    source = make_sources(no_surveys, fmt="parquet")
    with pytest.raises(DataContractError) as whole:
        load_sources(source)
    with pytest.raises(DataContractError) as split:
        partition(source, tmp_path / "parts", 4)
    assert [v.render() for v in split.value.violations] == [
        v.render() for v in whole.value.violations]
    assert "the table has no rows" in str(split.value)
    (source / "accounts.parquet").unlink()
    with pytest.raises(DataContractError) as gone:
        partition(source, tmp_path / "parts", 4)
    assert [v.problem for v in gone.value.violations] == [
        f"the mandatory table is missing from {source}"]
    assert not (tmp_path / "parts").exists() and not list(tmp_path.glob(".*partial"))


def test_checking_the_buckets_again_reports_every_bad_bucket_at_once(tiny_dir, tmp_path):
    """A partitioned base damaged after it was written (a bucket's accounts doubled in
    two buckets) is reported whole, each example naming its bucket."""
    out = tmp_path / "parts"
    partition(tiny_dir, out, 3)
    check_buckets(out)  # as written, every bucket holds
    damaged = sorted({int(b) for b in bucket_of(["A1", "A2", "A3"], 3)})[:2]
    assert len(damaged) == 2
    for bucket in damaged:
        file = out / "accounts" / f"bucket={bucket:03d}" / "part-0.parquet"
        frame = pd.read_parquet(file)
        pd.concat([frame, frame]).to_parquet(file, index=False)
    with pytest.raises(DataContractError) as caught:
        check_buckets(out)
    [violation] = [v for v in caught.value.violations if v.problem == "duplicate primary keys"]
    assert violation.count == sum(
        len(pd.read_parquet(out / "accounts" / f"bucket={b:03d}")) for b in damaged)
    assert {e.split(",")[0] for e in violation.examples} == {f"bucket {b}" for b in damaged}


def test_a_data_contract_error_survives_pickling_whole(make_sources):
    error = DataContractError([Violation("t", "c", "bad", "fix it", ["row 1"], 1)])
    again = pickle.loads(pickle.dumps(error))
    assert isinstance(again, DataContractError) and again.violations == error.violations
    assert str(again) == str(error)
