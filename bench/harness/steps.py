"""A `churnlens` command as one step of a benchmark: run in a new process, timed, and its
peak RSS read from `os.wait4` (the largest of the process and those it waited for, so a
Dask worker counts). Run steps from a small parent: a child's peak RSS starts from its
parent's size when it is forked."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from harness import VENV_BIN

CHURNLENS = str(VENV_BIN / "churnlens")


def run_step(step: str, *args: str | Path, home: Path) -> tuple[float, float]:
    """Run `churnlens -q ARGS` with CHURNLENS_HOME=`home`, print and return its seconds
    and peak RSS in GiB; a failed command ends the benchmark."""
    began = time.perf_counter()
    process = subprocess.Popen([CHURNLENS, "-q", *map(str, args)],
                               env={**os.environ, "CHURNLENS_HOME": str(home)},
                               stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - began
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{step} failed")
    peak = usage.ru_maxrss / 2**20
    print(f"{step:<40} {seconds:>8.1f} s {peak:>8.2f} GiB peak RSS", flush=True)
    return seconds, peak
