"""The batch `churnlens score` of a large workspace, timed as the wall clock of the
command, with its CPU and peak memory."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from harness import VENV_BIN
from harness.procfs import TICK, busy_ticks, loadavg
from harness.servers import base_env


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
