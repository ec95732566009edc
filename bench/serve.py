"""Benchmark serving: `POST /v1/score` and `GET /v1/accounts` under wrk, the same model
behind `mlflow models serve`, and the batch `churnlens score` of 10,000 accounts.

.venv/bin/python bench/serve.py                          # everything, about 6 minutes
.venv/bin/python bench/serve.py --skip-batch             # HTTP only (no 10,000-account run)
.venv/bin/python bench/serve.py --profile                # also where the time goes (10 min)

The load generator is wrk (`apt-get install wrk`), a separate process with one thread and
one keep-alive connection per concurrent client; a Lua script sends the body and prints
wrk's latency percentiles. Servers run as they would in production (`churnlens serve`,
one uvicorn worker unless said otherwise; `mlflow models serve --env-manager local`),
each started here, waited for, and stopped at the end whatever happens.

The demo workspace (`--workspace`, default /tmp/ws2: accounts, a registered champion, a
scoring run, an example request) is copied to `--scratch` and never written. The batch
run scores the sources in `--ws10k` (simulated with `churnlens simulate --accounts 10000`
if missing, not timed) with the champion of the copied registry, twice: a month before
the data's end and then at the default as_of, so the list has a previous run to compare
with; each is timed as the wall clock of the command. `GET /v1/accounts` is then
measured on that 10,000-account run.

Besides latency and requests/s, each load phase prints the server's CPU per request (its
process tree's user+system time over the requests it answered, the figure that sets the
throughput of one worker on a busy machine), wrk's own CPU, and how many cores other
jobs on the machine used meanwhile (all busy time in /proc/stat minus ours).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.metadata
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = ROOT / ".venv" / "bin"
TICK = os.sysconf("SC_CLK_TCK")
SCORER_KEY = "bench-scorer-key-0123456789abcdef"
VIEWER_KEY = "bench-viewer-key-0123456789abcdef"

# Targets from the issue.
SCORE_C1_P50_MS, SCORE_C1_P99_MS = 2.0, 5.0
SCORE_C8_RPS, SCORE_C8_P99_MS = 1_000.0, 20.0
MLFLOW_RATIO = 10.0
BATCH_SECONDS = 20.0
LIST_P99_MS = 20.0

LUA = """\
wrk.method = {method}
wrk.headers["Authorization"] = {auth}
{body}
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,' ..
    '"mean":%.1f}}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean))
end
"""
PATHS_LUA = """\
local paths = {{{paths}}}
request = function()
  return wrk.format(nil, paths[math.random(#paths)])
end
"""
BODY_LUA = """\
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open({path}, "rb"))
wrk.body = f:read("*a")
f:close()
"""


# -- the machine ---------------------------------------------------------------------------


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def busy_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine since boot."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields
    busy = user + nice + system + irq + softirq + steal
    return busy, busy + idle + iowait


def process_tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo += children.get(current, [])
    return tree


def tree_cpu_seconds(pid: int) -> float:
    total = 0
    for p in process_tree(pid):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICK


def tree_rss_mib(pid: int) -> float:
    total = 0
    for p in process_tree(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


def machine() -> dict[str, str]:
    def version(name: str) -> str:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return "-"

    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    return {
        "nproc": str(os.cpu_count()),
        "python": subprocess.run([str(VENV_BIN / "python"), "-V"], capture_output=True,
                                 text=True).stdout.strip(),
        "wrk": (wrk.stdout + wrk.stderr).split("[")[0].strip(),
        "packages": ", ".join(f"{n} {version(n)}" for n in (
            "fastapi", "uvicorn", "pydantic", "mlflow", "lightgbm", "sqlalchemy")),
        "loadavg": loadavg(),
    }


# -- servers -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(method: str, url: str, body: bytes | None = None, key: str | None = None,
         timeout: float = 10.0) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Server:
    """A server process (and its children) started here, stopped on leaving the block."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], ready_url: str,
                 log_path: Path, cwd: Path) -> None:
        self.name, self.cmd, self.env, self.ready_url = name, cmd, env, ready_url
        self.log_path, self.cwd = log_path, cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self.ready_seconds = float("nan")

    def __enter__(self) -> Server:
        log = self.log_path.open("wb")
        began = time.perf_counter()
        # Its own session, so stopping it reaches uvicorn workers and mlflow's child.
        self.proc = subprocess.Popen(self.cmd, env=self.env, cwd=self.cwd, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        try:
            deadline = began + 120
            while time.perf_counter() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited ({self.proc.returncode}) before "
                                       f"it was ready:\n{self.log_tail()}")
                with contextlib.suppress(OSError):
                    if http("GET", self.ready_url, timeout=2)[0] == 200:
                        self.ready_seconds = time.perf_counter() - began
                        print(f"{self.name}: ready in {self.ready_seconds:.1f} s "
                              f"(pid {self.proc.pid}, RSS {self.rss():.0f} MiB)")
                        return self
                time.sleep(0.2)
            raise RuntimeError(f"{self.name} not ready after 120 s:\n{self.log_tail()}")
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def cpu(self) -> float:
        return tree_cpu_seconds(self.pid)

    def rss(self) -> float:
        return tree_rss_mib(self.pid)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)  # the group of the process we started
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        print(f"{self.name}: stopped")


def base_env(tracking_uri: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CHURNLENS_", "MLFLOW_"))}
    env.update({
        "PATH": f"{VENV_BIN}:{env.get('PATH', '')}",
        "MLFLOW_TRACKING_URI": tracking_uri,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "MLFLOW_LOGGING_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    })
    return env


def churnlens_server(home: Path, tracking_uri: str, scratch: Path, name: str,
                     workers: int = 1) -> Server:
    port = free_port()
    env = base_env(tracking_uri) | {
        "CHURNLENS_HOME": str(home),
        "CHURNLENS_API_KEYS": f"scorer:{SCORER_KEY},viewer:{VIEWER_KEY}",
        "CHURNLENS_RELOAD_INTERVAL": "0",
    }
    cmd = [str(VENV_BIN / "churnlens"), "serve", "--host", "127.0.0.1", "--port", str(port),
           "--workers", str(workers)]
    return Server(name, cmd, env, f"http://127.0.0.1:{port}/readyz",
                  scratch / f"{name}.log", scratch)


def mlflow_server(tracking_uri: str, scratch: Path) -> Server:
    port = free_port()
    cmd = [str(VENV_BIN / "mlflow"), "models", "serve", "-m", "models:/churnlens@champion",
           "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)]
    return Server("mlflow models serve", cmd, base_env(tracking_uri),
                  f"http://127.0.0.1:{port}/ping", scratch / "mlflow-serve.log", scratch)


def base_url(server: Server) -> str:
    return server.ready_url.rsplit("/", 1)[0]


# -- load ----------------------------------------------------------------------------------


@dataclass
class Load:
    name: str
    connections: int
    seconds: float
    requests: int
    errors: dict[str, int]
    p50: float  # ms
    p90: float
    p99: float
    p999: float
    max: float
    mean: float
    server_cpu_ms: float  # per request
    wrk_cpu_s: float
    others_cores: float
    loadavg: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def line(self) -> str:
        errors = ", ".join(f"{k} {v}" for k, v in self.errors.items() if v) or "none"
        return (f"  {self.name}: c={self.connections}, {self.seconds:.0f} s, "
                f"{self.requests:,} requests, {self.rps:,.0f} req/s; latency ms p50 "
                f"{self.p50:.2f} p90 {self.p90:.2f} p99 {self.p99:.2f} p99.9 {self.p999:.2f} "
                f"max {self.max:.1f} mean {self.mean:.2f}; errors: {errors}\n"
                f"    server CPU {self.server_cpu_ms:.2f} ms/request; wrk CPU "
                f"{self.wrk_cpu_s:.1f} s; other jobs used {self.others_cores:.2f} of "
                f"{os.cpu_count()} cores; load average {self.loadavg}")


def wrk(name: str, server: Server, path: str, key: str, connections: int, seconds: float,
        scratch: Path, body: Path | None = None, quiet: bool = False,
        paths: list[str] | None = None) -> Load:
    """Run wrk on `path` (or on a random one of `paths` per request)."""
    script = scratch / f"wrk-{re.sub(r'[^a-z0-9]+', '-', name.lower())}.lua"
    extra = BODY_LUA.format(path=json.dumps(str(body))) if body else ""
    if paths:
        extra += PATHS_LUA.format(paths=", ".join(json.dumps(p) for p in paths))
    script.write_text(LUA.format(
        method=json.dumps("POST" if body else "GET"), auth=json.dumps(f"Bearer {key}"),
        body=extra))
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "5s",
           "-s", str(script), f"{base_url(server)}{path}"]
    cpu0, (busy0, _), wall0 = server.cpu(), busy_ticks(), time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)  # wrk's own CPU, not any other child's
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - wall0
    server_cpu = server.cpu() - cpu0
    busy1, _ = busy_ticks()
    text = out.decode(errors="replace")
    found = re.search(r"^BENCH (\{.*\})$", text, re.M)
    if proc.returncode != 0 or not found:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{text}")
    data = json.loads(found.group(1))
    wrk_cpu = usage.ru_utime + usage.ru_stime
    machine_cores = (busy1 - busy0) / TICK / wall
    load = Load(
        name=name, connections=connections, seconds=data["duration_us"] / 1e6,
        requests=data["requests"],
        errors={k: data[k] for k in ("connect", "read", "write", "status", "timeout")},
        p50=data["p50"] / 1e3, p90=data["p90"] / 1e3, p99=data["p99"] / 1e3,
        p999=data["p999"] / 1e3, max=data["max"] / 1e3, mean=data["mean"] / 1e3,
        server_cpu_ms=server_cpu * 1e3 / max(data["requests"], 1), wrk_cpu_s=wrk_cpu,
        others_cores=max(machine_cores - (server_cpu + wrk_cpu) / wall, 0.0),
        loadavg=loadavg())
    if not quiet:
        print(load.line(), flush=True)
    return load


# -- the scratch workspace -------------------------------------------------------------


def copy_workspace(source: Path, scratch: Path) -> None:
    """Copy the workspace and point the copied MLflow store at the copied artifacts:
    MLflow writes into a model's artifact directory when it loads it (e.g.
    `registered_model_meta`), and the source workspace must stay untouched."""
    import sqlite3

    if scratch.exists():
        shutil.rmtree(scratch)
    shutil.copytree(source, scratch)
    old, new = f"{source.resolve()}/", f"{scratch}/"
    with contextlib.closing(sqlite3.connect(scratch / "mlflow" / "mlflow.db")) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        changed = 0
        for table in tables:
            for column in [r[1] for r in db.execute(f"PRAGMA table_info('{table}')")
                           if r[2].upper().startswith(("VARCHAR", "TEXT"))]:
                changed += db.execute(
                    f'UPDATE "{table}" SET "{column}" = replace("{column}", ?, ?) '
                    f'WHERE "{column}" LIKE ?', (old, new, f"%{old}%")).rowcount
        db.commit()
    print(f"copied {source} to {scratch}; {changed} paths in its MLflow store now point "
          f"into the copy")


def newest_mtime(root: Path) -> float:
    return max((p.stat().st_mtime for p in root.rglob("*")), default=0.0)


# -- request bodies ------------------------------------------------------------------------


def bodies(example: Path, scratch: Path) -> tuple[Path, Path, dict[str, Any]]:
    """The one-account churnlens body and the matching `dataframe_split` body for MLflow:
    categoricals as text, every number a float (as `training.run.pyfunc_input`)."""
    account = json.loads(example.read_text())["accounts"][0]
    churnlens_body = scratch / "score-1.json"
    churnlens_body.write_text(json.dumps({"accounts": [account]}))
    features = account["features"]

    def cell(value: Any) -> Any:
        if value is None or isinstance(value, str):
            return value
        return float(value)

    mlflow_body = scratch / "mlflow-1.json"
    mlflow_body.write_text(json.dumps({"dataframe_split": {
        "columns": list(features), "data": [[cell(v) for v in features.values()]]}}))
    return churnlens_body, mlflow_body, account


def check_score(server: Server, body: Path) -> float:
    status, raw = http("POST", f"{base_url(server)}/v1/score", body.read_bytes(), SCORER_KEY)
    if status != 200:
        raise RuntimeError(f"POST /v1/score answered {status}: {raw[:500]!r}")
    scored = json.loads(raw)["scores"][0]
    print(f"  one account: probability {scored['probability']:.6f}, band {scored['band']}, "
          f"{len(scored['reasons'])} reasons, {len(raw):,} bytes; top reason: "
          f"{scored['reasons'][0]['text'] if scored['reasons'] else '-'}")
    return float(scored["probability"])


def check_mlflow(server: Server, body: Path) -> float:
    status, raw = http("POST", f"{base_url(server)}/invocations", body.read_bytes())
    if status != 200:
        raise RuntimeError(f"mlflow /invocations answered {status}: {raw[:500]!r}")
    found = json.loads(raw)["predictions"][0]
    probability = float(next(iter(found.values())) if isinstance(found, dict) else found)
    print(f"  one row: {raw[:120].decode()} ({len(raw):,} bytes)")
    return probability


# -- batch ---------------------------------------------------------------------------------


@dataclass
class Batch:
    as_of: str
    wall: float
    command_seconds: float  # what the command reports for scoring and storing
    accounts: int
    cpu: float
    peak_rss_mib: float
    others_cores: float
    loadavg: str


def run_score(ws10k: Path, tracking_uri: str, scratch: Path, as_of: str | None,
              profile: Path | None = None) -> Batch:
    cmd = [str(VENV_BIN / "churnlens"), "--home", str(ws10k), "score"]
    if as_of:
        cmd += ["--as-of", as_of]
    if profile is not None:
        cmd = [str(VENV_BIN / "python"), "-m", "cProfile", "-o", str(profile), *cmd]
    print(f"$ MLFLOW_TRACKING_URI={tracking_uri} {' '.join(cmd)}", flush=True)
    busy0, _ = busy_ticks()
    began = time.perf_counter()
    proc = subprocess.Popen(cmd, env=base_env(tracking_uri), cwd=scratch,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line.rstrip())
        print(f"  [{time.perf_counter() - began:6.1f} s] {line.rstrip()}", flush=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - began
    proc.returncode = os.waitstatus_to_exitcode(status)
    busy1, _ = busy_ticks()
    if proc.returncode != 0:
        raise RuntimeError(f"churnlens score failed ({proc.returncode})")
    found = re.search(r"Scoring run \d+: ([\d,]+) accounts as of (\S+) .* in ([\d.]+) s",
                      "\n".join(lines))
    assert found, "unexpected output of churnlens score"
    cpu = usage.ru_utime + usage.ru_stime
    batch = Batch(as_of=found.group(2), wall=wall, command_seconds=float(found.group(3)),
                  accounts=int(found.group(1).replace(",", "")), cpu=cpu,
                  peak_rss_mib=usage.ru_maxrss / 1024,
                  others_cores=max((busy1 - busy0) / TICK / wall - cpu / wall, 0.0),
                  loadavg=loadavg())
    print(f"  wall {batch.wall:.1f} s for {batch.accounts:,} accounts (the command reports "
          f"{batch.command_seconds:.1f} s for building the scoring frame, explaining and "
          f"storing); CPU {batch.cpu:.1f} s, peak RSS {batch.peak_rss_mib:,.0f} MiB; other "
          f"jobs used {batch.others_cores:.2f} cores; load average {batch.loadavg}")
    return batch


def month_before(ws10k: Path) -> str | None:
    """The first run's as_of: a month before the default one (the day after the data)."""
    try:
        end = dt.date.fromisoformat(
            json.loads((ws10k / "sources" / "dataset.json").read_text())["data_end"])
    except (OSError, KeyError, ValueError):
        return None
    default = end + dt.timedelta(days=1)
    month = default.month - 1 or 12
    year = default.year - (default.month == 1)
    return default.replace(year=year, month=month, day=min(default.day, 28)).isoformat()


# -- where the time goes (in-process, single thread) ---------------------------------------


def per_call_us(fn: Any, n: int) -> float:
    """CPU µs per call (this process, all threads), median of 5 rounds of `n` calls: CPU
    time, not wall time, so other jobs on the machine distort it less."""
    fn()
    runs = []
    for _ in range(5):
        began = time.process_time()
        for _ in range(n):
            fn()
        runs.append((time.process_time() - began) / n * 1e6)
    return statistics.median(runs)


def asgi_call(app: Any, method: str, path: str, query: str = "", key: str = "",
              body: bytes = b"") -> Any:
    """A coroutine function sending one request straight to an ASGI app (no HTTP server)."""
    import asyncio

    headers = [(b"host", b"127.0.0.1")]
    if key:
        headers.append((b"authorization", f"Bearer {key}".encode()))
    if body:
        headers += [(b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode())]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": query.encode(), "root_path": "", "headers": headers,
             "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80)}

    async def call() -> None:
        sent = False
        status = [0]

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]

        await app(scope, receive, send)
        if status[0] != 200:
            raise RuntimeError(f"{method} {path} answered {status[0]} in-process")

    return call


async def async_per_call_us(call: Any, n: int) -> float:
    await call()
    runs = []
    for _ in range(5):
        began = time.process_time()
        for _ in range(n):
            await call()
        runs.append((time.process_time() - began) / n * 1e6)
    return statistics.median(runs)


def profile_app(home: Path, tracking_uri: str, body: Path | None) -> None:
    """The real app driven in-process (no uvicorn, no sockets): CPU per request of each
    route, so what uvicorn adds and what FastAPI adds can be told apart."""
    import asyncio

    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    from features.settings import Settings, use_settings
    from serving.api import create_app

    settings = Settings(home=home, reload_interval=0,
                        api_keys=f"scorer:{SCORER_KEY},viewer:{VIEWER_KEY}")  # type: ignore[arg-type]
    use_settings(settings)
    app = create_app(settings)

    async def run() -> None:
        async with app.router.lifespan_context(app):
            calls = [("GET /healthz", asgi_call(app, "GET", "/healthz"), 500)]
            if body is not None:
                calls.append(("POST /v1/score, one account", asgi_call(
                    app, "POST", "/v1/score", key=SCORER_KEY, body=body.read_bytes()), 300))
            else:
                calls.append(("GET /v1/accounts?per_page=50", asgi_call(
                    app, "GET", "/v1/accounts", "per_page=50", VIEWER_KEY), 100))
            for label, call, n in calls:
                print(f"  {await async_per_call_us(call, n):8.0f} µs  {label} (whole app "
                      f"in-process: middleware, routing, auth, body, route, response)")

    asyncio.run(run())


def _dep() -> int:
    return 1


def _dep2() -> int:
    return 2


async def _async_dep() -> int:
    return 1


async def _async_route() -> dict[str, str]:
    return {"status": "ok"}


def _sync_route() -> dict[str, str]:
    return {"status": "ok"}


async def _async_route_dep(x: Annotated[int, Depends(_async_dep)]) -> dict[str, str]:
    return {"status": "ok"}


def _sync_route_dep(x: Annotated[int, Depends(_dep)]) -> dict[str, str]:
    return {"status": "ok"}


def _sync_route_2dep(x: Annotated[int, Depends(_dep)],
                     y: Annotated[int, Depends(_dep2)]) -> dict[str, str]:
    return {"status": "ok"}


def profile_framework() -> None:
    """What FastAPI's own machinery costs here: a bare app, one trivial route, variants."""
    import asyncio

    from fastapi import FastAPI, Request

    bare, wrapped = FastAPI(), FastAPI()
    routes: list[tuple[str, Any]] = [("/async", _async_route), ("/async-dep", _async_route_dep),
                                     ("/sync", _sync_route),
                                     ("/sync-dep", _sync_route_dep),
                                     ("/sync-2dep", _sync_route_2dep)]
    for path, route in routes:
        bare.get(path)(route)

    @wrapped.middleware("http")
    async def passthrough(request: Request, call_next: Any) -> Any:
        return await call_next(request)

    wrapped.get("/async")(_async_route)
    variants = [
        ("async def route, no middleware", bare, "/async"),
        ("async def route + async dependency", bare, "/async-dep"),
        ("def route (threadpool: route + response validation)", bare, "/sync"),
        ("def route + one def dependency (3 threadpool hops)", bare, "/sync-dep"),
        ("def route + two def dependencies (4 hops, like /v1/score)", bare, "/sync-2dep"),
        ("async def route + @app.middleware('http') pass-through", wrapped, "/async"),
    ]

    async def run() -> None:
        for label, app, path in variants:
            print(f"  {await async_per_call_us(asgi_call(app, 'GET', path), 500):8.0f} µs  "
                  f"{label}")

    asyncio.run(run())


def profile_score(scratch: Path, tracking_uri: str, body: Path) -> None:
    """Each step of one `POST /v1/score` call timed alone, then cProfile of the scoring."""
    import cProfile
    import pstats

    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    from features.catalog import render_reason
    from features.settings import Settings, use_settings

    use_settings(Settings(home=scratch))
    from serving.api import ScoreBody, _score_json
    from serving.auth import KeyRing
    from serving.risk import ScoringRequest, score_requests
    from training.registry import load_version
    from training.tracking import mlflow_client

    model, version = load_version(mlflow_client())
    booster = model.booster
    leaves = max(t["num_leaves"] for t in booster.dump_model()["tree_info"])
    print(f"model v{version}: {booster.num_trees()} trees, up to {leaves} leaves, "
          f"{booster.num_feature()} features")
    raw = body.read_bytes()
    parsed = ScoreBody.model_validate_json(raw)
    ring = KeyRing.from_keys(f"scorer:{SCORER_KEY}")
    requests = [ScoringRequest(a.account_id, a.as_of, a.features) for a in parsed.accounts]
    features = requests[0].features
    matrix = model.contract.encode_records([features])
    explanation = model.explain_matrix(matrix)
    scores = score_requests(model, version, requests)
    top = [r.feature for r in scores[0].reasons]
    steps = [
        ("json.loads + ScoreBody.model_validate (request body)",
         lambda: ScoreBody.model_validate(json.loads(raw))),
        ("KeyRing.role_of (auth: sha256 + compare)", lambda: ring.role_of(SCORER_KEY)),
        ("contract.check_columns(strict=True)",
         lambda: model.contract.check_columns(list(features), strict=True)),
        ("contract.encode_records", lambda: model.contract.encode_records([features])),
        ("model.predict_matrix (raw score + calibration)",
         lambda: model.predict_matrix(matrix)),
        ("booster.predict(raw_score=True) alone",
         lambda: booster.predict(matrix, raw_score=True, num_threads=1)),
        ("model.explain_matrix (TreeSHAP)", lambda: model.explain_matrix(matrix)),
        ("Explanation.by_family", lambda: explanation.by_family(model.contract)),
        (f"render_reason x {len(top)} (the reasons' sentences)",
         lambda: [render_reason(n, features) for n in top]),
        ("score_requests (all of the scoring)", lambda: score_requests(model, version,
                                                                       requests)),
        ("_score_json + json.dumps (response)",
         lambda: json.dumps({"scores": [_score_json(s) for s in scores]})),
    ]
    print("one-account POST /v1/score, each step alone (CPU, median of 5 x 300 calls):")
    for label, fn in steps:
        print(f"  {per_call_us(fn, 300):8.0f} µs  {label}")
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(2_000):
        score_requests(model, version, requests)
    profiler.disable()
    print("cProfile of 2,000 score_requests calls (one account), by own time:")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(14)


def profile_list(ws10k: Path) -> None:
    import cProfile
    import pstats

    from serving.ranked_pages import RankedPages, jsonable
    from serving.store import ListQuery, ScoreStore

    store = ScoreStore(f"sqlite:///{ws10k / 'scores.db'}")
    try:
        query = ListQuery()
        page = store.ranked(query)
        print(f"GET /v1/accounts first page in-process: {len(page.items)} of {page.total:,}")
        print(f"  {per_call_us(lambda: store.ranked(query), 100):8.0f} µs  ScoreStore.ranked")
        print(f"  {per_call_us(lambda: json.dumps(jsonable(page)), 100):8.0f} µs  "
              f"jsonable + json.dumps (response)")
        pages = RankedPages(store)
        pages.json(query)
        print(f"  {per_call_us(lambda: pages.json(query), 300):8.0f} µs  "
              f"RankedPages.json, page already asked for")
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(300):
            json.dumps(jsonable(store.ranked(query)))
        profiler.disable()
        print("cProfile of 300 first pages, by own time:")
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(12)
    finally:
        store.dispose()


def print_batch_profile(path: Path) -> None:
    import pstats

    print("cProfile of `churnlens score` (10,000 accounts), by cumulative time:")
    stats = pstats.Stats(str(path), stream=sys.stdout)
    stats.sort_stats("cumulative").print_stats(r"(features|serving|training)/", 25)
    print("... and by own time:")
    stats.sort_stats("tottime").print_stats(15)


# -- the run -------------------------------------------------------------------------------


def verdict(ok: bool | None) -> str:
    """None: a figure printed for orientation, with no target in the issue."""
    return "(no target)" if ok is None else "met" if ok else "MISSED"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=Path("/tmp/ws2"),
                        help="demo workspace with a champion (read only)")
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/benchws"),
                        help="where the workspace is copied and logs go (replaced)")
    parser.add_argument("--ws10k", type=Path, default=Path("/tmp/ws10k"),
                        help="workspace of 10,000 accounts for the batch and list runs")
    parser.add_argument("--seconds", type=float, default=60,
                        help="the concurrency-8 /v1/score run (errors are counted over it)")
    parser.add_argument("--short", type=float, default=20, help="every other load run")
    parser.add_argument("--skip-batch", action="store_true")
    parser.add_argument("--skip-workers", action="store_true",
                        help="skip the extra `--workers 2` run")
    parser.add_argument("--profile", action="store_true",
                        help="also time each step in-process and cProfile the batch run")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")

    started = time.perf_counter()
    info = machine()
    print(f"machine: nproc {info['nproc']}, {info['python']}, {info['wrk']}; "
          f"{info['packages']}; load average {info['loadavg']}")
    scratch: Path = args.scratch.resolve()
    untouched = newest_mtime(args.workspace)
    copy_workspace(args.workspace, scratch)
    tracking = f"sqlite:///{scratch / 'mlflow' / 'mlflow.db'}"
    score_body, mlflow_body, account = bodies(scratch / "example-score-request.json",
                                              scratch)
    print(f"one-account body {score_body} "
          f"({score_body.stat().st_size:,} bytes, {len(account['features'])} features)")
    loads: dict[str, Load] = {}

    print("\n== churnlens serve (1 worker): POST /v1/score, one account with reasons")
    with churnlens_server(scratch, tracking, scratch, "churnlens serve") as server:
        p_churnlens = check_score(server, score_body)
        wrk("warm-up", server, "/v1/score", SCORER_KEY, 8, 5, scratch, score_body, True)
        loads["score c1"] = wrk("score c1", server, "/v1/score", SCORER_KEY, 1, args.short,
                                scratch, score_body)
        loads["score c8"] = wrk("score c8", server, "/v1/score", SCORER_KEY, 8, args.seconds,
                                scratch, score_body)
        loads["healthz c1"] = wrk("GET /healthz c1 (the framework's floor)", server,
                                  "/healthz", "", 1, 10, scratch)
        print(f"  server RSS after the runs: {server.rss():.0f} MiB")

    print("\n== mlflow models serve: POST /invocations, one row, probability only")
    with mlflow_server(tracking, scratch) as server:
        p_mlflow = check_mlflow(server, mlflow_body)
        print(f"  same probability as churnlens: {abs(p_mlflow - p_churnlens) < 1e-9} "
              f"({p_mlflow:.6f} vs {p_churnlens:.6f})")
        wrk("warm-up", server, "/invocations", "", 8, 3, scratch, mlflow_body, True)
        loads["mlflow c1"] = wrk("mlflow c1", server, "/invocations", "", 1, args.short,
                                 scratch, mlflow_body)
        loads["mlflow c8"] = wrk("mlflow c8", server, "/invocations", "", 8, args.short,
                                 scratch, mlflow_body)
        print(f"  server RSS after the runs: {server.rss():.0f} MiB")
    ratio8 = loads["score c8"].rps / loads["mlflow c8"].rps
    ratio1 = loads["score c1"].rps / loads["mlflow c1"].rps
    print(f"  churnlens / mlflow throughput: {ratio8:.1f}x at c=8, {ratio1:.1f}x at c=1")

    if not args.skip_workers:
        print("\n== churnlens serve --workers 2 (not the default; for comparison)")
        with churnlens_server(scratch, tracking, scratch, "churnlens serve --workers 2",
                              workers=2) as server:
            check_score(server, score_body)
            wrk("warm-up", server, "/v1/score", SCORER_KEY, 8, 5, scratch, score_body, True)
            loads["score c8 w2"] = wrk("score c8, 2 workers", server, "/v1/score",
                                       SCORER_KEY, 8, args.short, scratch, score_body)

    batches: list[Batch] = []
    profile_path = scratch / "score.prof"
    if not args.skip_batch:
        ws10k: Path = args.ws10k.resolve()
        print(f"\n== churnlens score of {ws10k}")
        if not (ws10k / "sources" / "dataset.json").is_file():
            print("simulating 10,000 accounts first (not timed against the target)")
            subprocess.run([str(VENV_BIN / "churnlens"), "--home", str(ws10k), "simulate",
                            "--accounts", "10000"], check=True, env=base_env(tracking),
                           cwd=scratch)
        for name in ("scores.db", "scores.db-wal", "scores.db-shm"):
            (ws10k / name).unlink(missing_ok=True)
        previous = month_before(ws10k)
        if previous:
            batches.append(run_score(ws10k, tracking, scratch, previous))
        batches.append(run_score(ws10k, tracking, scratch, None))

        print("\n== churnlens serve on the 10,000-account run: GET /v1/accounts, page 1 of 50")
        with churnlens_server(ws10k, tracking, scratch, "churnlens serve (10k)") as server:
            status, raw = http("GET", f"{base_url(server)}/v1/accounts?per_page=50",
                               key=VIEWER_KEY)
            page = json.loads(raw)
            print(f"  {status}: {len(page['items'])} of {page['total']:,} accounts, "
                  f"{len(raw):,} bytes, first delta {page['items'][0].get('delta')}")
            path = "/v1/accounts?per_page=50"
            wrk("warm-up", server, path, VIEWER_KEY, 8, 3, scratch, quiet=True)
            loads["list c1"] = wrk("accounts c1", server, path, VIEWER_KEY, 1, args.short,
                                   scratch)
            loads["list c8"] = wrk("accounts c8", server, path, VIEWER_KEY, 8, args.short,
                                   scratch)
            loads["list arr c1"] = wrk("accounts sort=arr_at_risk c1", server,
                                       path + "&sort=arr_at_risk", VIEWER_KEY, 1, 10, scratch)
            # Many CSMs browsing their books: each owner (or all), both sorts, all or high
            # risk, pages 1-3, picked at random; a page's first visit is worked out by the
            # store, later ones come from the remembered pages.
            owners = sorted({a["csm_owner"] for a in page["items"]})
            varied = [f"/v1/accounts?per_page=50&page={n}&sort={sort}{band}{owner}"
                      for n in (1, 2, 3) for sort in ("risk", "arr_at_risk")
                      for band in ("", "&band=high")
                      for owner in ["", *(f"&csm_owner={quote(o)}" for o in owners)]]
            loads["list varied c8"] = wrk(f"accounts, {len(varied)} varied pages, c8", server,
                                          path, VIEWER_KEY, 8, args.short, scratch,
                                          paths=varied)

    if args.profile:
        print("\n== where the time goes (in-process CPU time, servers stopped)")
        print("FastAPI's own cost per request, a bare app with one trivial route:")
        profile_framework()
        print("churnlens's app, driven in-process:")
        profile_app(scratch, tracking, score_body)
        profile_score(scratch, tracking, score_body)
        if not args.skip_batch:
            profile_app(args.ws10k.resolve(), tracking, None)
            profile_list(args.ws10k.resolve())
            batches_profiled = run_score(args.ws10k.resolve(), tracking, scratch, None,
                                         profile_path)
            print(f"  (under cProfile: {batches_profiled.wall:.1f} s)")
            print_batch_profile(profile_path)

    print("\n== figures against the targets")
    rows: list[tuple[str, str, str, bool | None]] = []
    c1, c8 = loads["score c1"], loads["score c8"]
    rows.append(("score c=1 p50", f"≤ {SCORE_C1_P50_MS:g} ms", f"{c1.p50:.2f} ms",
                 c1.p50 <= SCORE_C1_P50_MS))
    rows.append(("score c=1 p99", f"≤ {SCORE_C1_P99_MS:g} ms", f"{c1.p99:.2f} ms",
                 c1.p99 <= SCORE_C1_P99_MS))
    rows.append(("score c=8 throughput", f"≥ {SCORE_C8_RPS:,.0f} req/s",
                 f"{c8.rps:,.0f} req/s", c8.rps >= SCORE_C8_RPS))
    rows.append(("score c=8 p99", f"≤ {SCORE_C8_P99_MS:g} ms", f"{c8.p99:.2f} ms",
                 c8.p99 <= SCORE_C8_P99_MS))
    rows.append((f"score c=8 errors over {c8.seconds:.0f} s", "0",
                 f"{c8.error_count} of {c8.requests:,}", c8.error_count == 0))
    rows.append(("churnlens / mlflow throughput, c=8", f"≥ {MLFLOW_RATIO:g}x",
                 f"{ratio8:.1f}x ({c8.rps:,.0f} vs {loads['mlflow c8'].rps:,.0f})",
                 ratio8 >= MLFLOW_RATIO))
    for b in batches:
        rows.append((f"churnlens score, {b.accounts:,} accounts, as_of {b.as_of}",
                     f"< {BATCH_SECONDS:g} s", f"{b.wall:.1f} s", b.wall < BATCH_SECONDS))
    for key, what in (("list c1", "first page"), ("list c8", "first page")):
        if key in loads:
            rows.append((f"GET /v1/accounts {what} p99, c={loads[key].connections}",
                         f"≤ {LIST_P99_MS:g} ms", f"{loads[key].p99:.2f} ms",
                         loads[key].p99 <= LIST_P99_MS))
    if "list varied c8" in loads:  # the target is the first page; filters for orientation
        pages = loads["list varied c8"]
        rows.append((f"GET /v1/accounts varied pages p99, c={pages.connections}", "-",
                     f"{pages.p99:.2f} ms", None))
    width = max(len(r[0]) for r in rows)
    for name, target, measured, ok in rows:
        print(f"  {name:<{width}}  {target:>14}  {measured:>26}  {verdict(ok)}")
    if newest_mtime(args.workspace) != untouched:
        print(f"WARNING: something under {args.workspace} changed during the run")
    print(f"\nload generator: wrk -t1 (one thread), keep-alive, 5 s timeout; total "
          f"{time.perf_counter() - started:.0f} s; load average at the end {loadavg()}")


if __name__ == "__main__":
    main()
