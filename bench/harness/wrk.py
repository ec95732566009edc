"""Drive wrk (one thread, one keep-alive connection per client) against a server and read
its latency percentiles, the server's CPU per request and what other jobs used meanwhile."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.procfs import TICK, busy_ticks, loadavg
from harness.servers import Server, base_url

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
