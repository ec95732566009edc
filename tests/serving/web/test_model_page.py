"""The Model page, /v1/monitoring and the monitoring gauges, on a store of two judged runs."""

from __future__ import annotations

import html
import re

import pytest
from api_keys import KEYS, auth
from fastapi.testclient import TestClient
from web_support import post_form, scored_store

from serving.api import create_app
from serving.model_holder import ModelHolder
from serving.monitoring.monitor import RunJudgement
from serving.web.model_page import figure, sparkline

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def judged_store(tmp_path_factory, simulated_sources, trained_model):
    store = scored_store(tmp_path_factory.mktemp("model-page") / "scores.db",
                         simulated_sources, trained_model)
    yield store
    store.dispose()


@pytest.fixture
def client(judged_store, trained_model, isolated_settings):
    from web_support import keyring_of_test_keys

    settings = isolated_settings.model_copy(update={"reload_interval": 0})
    app = create_app(settings, holder=ModelHolder(lambda: (trained_model, "1")),
                     store=judged_store, keyring=keyring_of_test_keys())
    with TestClient(app, follow_redirects=False) as test_client:
        yield test_client


def signed_in(client: TestClient, role: str) -> TestClient:
    assert post_form(client, "/sign-in", {"key": KEYS[role], "next": "/"}).status_code == 303
    return client


def stored(judged_store) -> list[RunJudgement]:
    return [RunJudgement.from_stored(j.run, j.report)
            for j in judged_store.monitoring.judgements()]


def test_the_model_page_shows_the_stored_judgements(client, judged_store):
    page = signed_in(client, "admin").get("/model")
    assert page.status_code == 200, page.text
    text = html.unescape(page.text)
    runs = stored(judged_store)
    newest = runs[0]
    assert f"Run {newest.run.id} as of" in text
    assert re.search(r'class="verdict-level">(\w+)<', text).group(1) == newest.verdict.level
    for reason in newest.verdict.reasons:
        assert reason in text
    drift_rows = re.findall(r'<tr class="status-(\w+)" data-feature="([^"]+)">', page.text)
    assert drift_rows == [(f.status, f.name) for f in newest.drift.features[:15]]
    top = newest.drift.features[0]
    row = page.text.split(f'data-feature="{top.name}">')[1].split("</tr>")[0]
    assert f"<td>{figure(top.psi)}</td>" in row and f"<td>{figure(top.spread)}</td>" in row
    assert re.findall(r'<tr data-run="(\d+)">', page.text) == [str(r.run.id) for r in runs]
    for run in runs:
        row = page.text.split(f'<tr data-run="{run.run.id}">')[1].split("</tr>")[0]
        assert f"<td>{run.realised.status}</td>" in row
        assert f"{run.realised.resolved:,} of {run.realised.rows:,}" in row
        assert f"<td>{figure(run.realised.metrics.get('roc_auc'))}</td>" in row
    assert ('id="reliability-chart"' in page.text) == any(r.realised.reliability
                                                             for r in runs)
    assert 'href="/model"' in page.text  # admins get the link in the header


def test_the_model_page_is_for_admins(client):
    assert client.get("/model").status_code == 303  # no session: sign in first
    viewer = signed_in(client, "viewer")
    assert 'href="/model"' not in viewer.get("/").text
    refused = viewer.get("/model")
    assert refused.status_code == 403 and "for admins" in refused.text


def test_monitoring_api_returns_the_stored_judgements(client, judged_store):
    assert client.get("/v1/monitoring", headers=auth("viewer")).status_code == 403
    response = client.get("/v1/monitoring", headers=auth("admin"), params={"runs": 1})
    assert response.status_code == 200, response.text
    [run] = response.json()["runs"]
    newest = judged_store.monitoring.judgements()[0]
    assert run["run_id"] == newest.run.id and run["verdict"] == newest.verdict
    assert run["drift"]["score"]["psi"] == pytest.approx(newest.report["drift"]["score"]["psi"])
    assert client.get("/v1/monitoring", headers=auth("admin"),
                      params={"runs": 0}).status_code == 422


def test_metrics_export_the_newest_verdict(client, judged_store):
    text = client.get("/metrics").text
    newest = judged_store.monitoring.judgements()[0]
    code = ("ok", "watch", "retrain").index(newest.verdict)
    assert f'churnlens_monitor_verdict{{model_version="1"}} {float(code)}' in text
    psi = newest.report["drift"]["score"]["psi"]
    found = re.search(r'churnlens_monitor_score_psi\{model_version="1"\} (\S+)', text)
    assert found and float(found.group(1)) == pytest.approx(psi)


def test_sparkline_scales_to_the_box():
    assert sparkline([0.0, 0.5, float("nan"), 0.25], width=30, height=24) == \
        "0.0,22.0 10.0,2.0 30.0,12.0"
    assert sparkline([float("nan")]) == ""
