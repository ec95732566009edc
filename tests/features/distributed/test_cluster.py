"""--cluster values, and runners that give results in item order wherever they run."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from features.distributed.cluster import ClusterChoice, InProcess, bucket_runner, parse_cluster
from features.errors import ConfigError
from features.settings import settings_with, use_settings


@pytest.mark.parametrize(("value", "expected"), [
    ("none", ClusterChoice("none")),
    ("", ClusterChoice("none")),
    ("local", ClusterChoice("local")),
    ("local:3", ClusterChoice("local", workers=3)),
    ("tcp://10.0.0.5:8786", ClusterChoice("scheduler", address="tcp://10.0.0.5:8786")),
])
def test_cluster_values_parse(value, expected):
    assert parse_cluster(value) == expected
    assert parse_cluster(str(expected)) == expected


@pytest.mark.parametrize(("value", "says"), [
    ("local:0", "local:N needs N from 1 to 256"), ("local:x", "local:N needs N from 1 to 256"),
    ("spark://h:7077", "use none, local, local:N or tcp://HOST:8786"),
    ("tcp://", "use none, local, local:N or tcp://HOST:8786"),
    ("remote", "use none, local, local:N or tcp://HOST:8786")])
def test_a_bad_cluster_value_says_what_is_accepted(value, says):
    with pytest.raises(ConfigError, match=re.escape(says)):
        parse_cluster(value)


def test_the_default_comes_from_the_settings():
    use_settings(settings_with(dask_scheduler="local:2"))
    assert parse_cluster(None) == ClusterChoice("local", workers=2)
    use_settings(settings_with(dask_scheduler="nowhere"))
    with pytest.raises(ConfigError, match="CHURNLENS_DASK_SCHEDULER 'nowhere'"):
        parse_cluster(None)


def _square_plus(item: int, offset: int) -> int:
    return item * item + offset


def test_in_process_keeps_order_and_reports_progress():
    seen: list[tuple[int, int]] = []
    out = InProcess().map(_square_plus, [3, 1, 2], lambda d, n: seen.append((d, n)), offset=1)
    assert out == [10, 2, 5]
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_dask_gives_the_results_in_item_order(dask_runner):
    items = list(range(40, 0, -1))
    seen: list[int] = []
    out = dask_runner.map(_square_plus, items, lambda d, n: seen.append(d), offset=7)
    assert out == [i * i + 7 for i in items]
    assert seen == list(range(1, 41))
    assert dask_runner.map(_square_plus, [], offset=0) == []


def test_an_unreachable_scheduler_is_a_clear_error(monkeypatch):
    monkeypatch.setattr("features.distributed.cluster.CONNECT_SECONDS", 2)
    nowhere = ClusterChoice("scheduler", address="tcp://127.0.0.1:9")
    with (pytest.raises(ConfigError, match=re.escape("Cannot reach the Dask scheduler at "
                                                      "tcp://127.0.0.1:9")),
          bucket_runner(nowhere)):
        pass


def test_none_never_imports_dask(tmp_path):
    code = ("import sys\nfrom features.distributed.cluster import ClusterChoice, bucket_runner\n"
            "with bucket_runner(ClusterChoice('none')) as r:\n"
            "    assert r.map(abs, [-1, -2]) == [1, 2]\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHURNLENS_")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, env=env, cwd=tmp_path)
    assert result.stdout.strip() == "[]"


def test_a_scheduler_without_workers_is_a_clear_error(monkeypatch):
    from distributed import LocalCluster

    monkeypatch.setattr("features.distributed.cluster.CONNECT_SECONDS", 1)
    with LocalCluster(n_workers=0, host="127.0.0.1", dashboard_address="127.0.0.1:0") as empty:
        address = ClusterChoice("scheduler", address=empty.scheduler_address)
        with pytest.raises(ConfigError, match="has no workers after 1 s"), \
                bucket_runner(address):
            pass


def test_shared_arguments_reach_each_task_whole(dask_runner):
    out = dask_runner.map(_lengths, [0, 1], shared=[1, 2, 3], table={"a": 1})
    assert out == [(3, 1), (3, 1)]


def _lengths(item: int, shared: list[int], table: dict[str, int]) -> tuple[int, int]:
    return len(shared), len(table)
