"""`churnlens serve` as a real uvicorn process on 127.0.0.1, with a registered champion."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from api_keys import KEYS, auth
from web_support import form_token

from serving.batch import run_batch
from serving.risk import Bands
from serving.store.score_store import ScoreStore
from training.config import load_config
from training.registry import promote
from training.run import run_training
from training.tracking import mlflow_client

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _call(url: str, role: str | None = None, body: dict | None = None
          ) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json", **(auth(role) if role else {})}
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _wait_ready(base: str, process: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {process.stderr.read()}")
        try:
            if _call(f"{base}/readyz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError("server not ready in time")


def _sign_in(port: int) -> str:
    """Sign in on the CSM page with the viewer key; returns the session cookie."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/sign-in")
        form = conn.getresponse()
        token = form_token(form.read().decode())
        cookie = (form.getheader("Set-Cookie") or "").split(";")[0]
        conn.request("POST", "/sign-in",
                     urllib.parse.urlencode({"key": KEYS["viewer"], "next": "/",
                                             "csrf": token}),
                     {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
        response = conn.getresponse()
        response.read()
        assert response.status == 303, response.status
        return (response.getheader("Set-Cookie") or "").split(";")[0]
    finally:
        conn.close()


def _page_status(port: int, cookie: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)  # a new connection
    try:
        conn.request("GET", "/", headers={"Cookie": cookie})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def test_serve_answers_over_http_and_follows_the_champion_alias(
        simulated_set, simulated_sources, isolated_settings, tmp_path):
    frame, manifest, path = simulated_set
    config = load_config()
    config = config.model_copy(update={
        "split": config.split.model_copy(update={"backtest_folds": 0})})
    first = run_training(frame, manifest, config, path)
    client = mlflow_client()
    from training.registry import load_version

    model, version = load_version(client)
    store = ScoreStore(isolated_settings.score_store)
    batch = run_batch(simulated_sources, model, version, store, None, Bands())
    store.dispose()

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "CHURNLENS_HOME": str(isolated_settings.home),
           "CHURNLENS_API_KEYS": ",".join(f"{r}:{k}" for r, k in KEYS.items()),
           "CHURNLENS_RELOAD_INTERVAL": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    process = subprocess.Popen(
        [sys.executable, "-c", "from serving.cli import main; main()", "serve",
         "--port", str(port), "--workers", "2"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_ready(base, process)
        status, model_info = _call(f"{base}/v1/model", "viewer")
        assert status == 200 and model_info["version"] == first.version
        status, ranked = _call(f"{base}/v1/accounts?per_page=5", "viewer")
        assert status == 200 and len(ranked["items"]) == 5
        status, scored = _call(f"{base}/v1/score", "scorer", batch.example_request)
        assert status == 200, scored
        assert len(scored["scores"]) == len(batch.example_request["accounts"])
        assert _call(f"{base}/v1/score", "viewer", batch.example_request)[0] == 403

        # A CSM page session works on both workers: each new connection may land on
        # either, and none is sent back to sign in.
        cookie = _sign_in(port)
        assert cookie.startswith("churnlens_session=")
        assert [_page_status(port, cookie) for _ in range(30)] == [200] * 30

        # A person promotes another version; the server notices within a few polls.
        second = run_training(frame, manifest, config, path)
        promote(client, second.version)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if _call(f"{base}/v1/model", "viewer")[1]["version"] == second.version:
                break
            time.sleep(0.5)
        else:
            raise AssertionError("the server did not pick up the new champion")
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
    assert Path(isolated_settings.home).is_dir()


def test_a_bad_key_at_start_up_is_one_line_without_a_traceback(tmp_path: Path):
    churnlens = Path(sys.executable).with_name("churnlens")
    env = {**os.environ, "CHURNLENS_HOME": str(tmp_path),
           "CHURNLENS_API_KEYS": "viewer:tooshort"}
    env.pop("CHURNLENS_API_KEYS_FILE", None)
    started = subprocess.run([str(churnlens), "serve", "--port", str(_free_port())],
                             env=env, capture_output=True, text=True, timeout=120)
    assert started.returncode == 2, started.stderr
    assert "Traceback" not in started.stderr + started.stdout
    assert started.stderr.strip().splitlines() == [
        "error: entry 1 of CHURNLENS_API_KEYS has a key shorter than 16 characters; "
        "make a strong one with `churnlens keys new`"], started.stderr
