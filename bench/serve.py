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
import shutil
import subprocess
import sys
import time
from pathlib import Path

from harness import VENV_BIN
from harness.procfs import loadavg, machine
from harness.servers import base_env
from harness.wrk import Load
from scenarios.batch import Batch, month_before, run_score
from scenarios.http import list_phase, mlflow_phase, score_phase, workers_phase
from scenarios.profiles import (
    print_batch_profile,
    profile_app,
    profile_framework,
    profile_list,
    profile_score,
)
from scenarios.workspace import bodies, copy_workspace, newest_mtime

# Targets from the issue.
SCORE_C1_P50_MS, SCORE_C1_P99_MS = 2.0, 5.0
SCORE_C8_RPS, SCORE_C8_P99_MS = 1_000.0, 20.0
MLFLOW_RATIO = 10.0
BATCH_SECONDS = 20.0
LIST_P99_MS = 20.0


def verdict(ok: bool | None) -> str:
    """None: a figure printed for orientation, with no target in the issue."""
    return "(no target)" if ok is None else "met" if ok else "MISSED"


def print_targets(loads: dict[str, Load], batches: list[Batch], ratio8: float) -> None:
    """Each measured figure beside its target, met or MISSED."""
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
    p_churnlens = score_phase(scratch, tracking, score_body, args.seconds, args.short, loads)
    print("\n== mlflow models serve: POST /invocations, one row, probability only")
    mlflow_phase(scratch, tracking, mlflow_body, args.short, loads, p_churnlens)
    ratio8 = loads["score c8"].rps / loads["mlflow c8"].rps
    ratio1 = loads["score c1"].rps / loads["mlflow c1"].rps
    print(f"  churnlens / mlflow throughput: {ratio8:.1f}x at c=8, {ratio1:.1f}x at c=1")
    if not args.skip_workers:
        print("\n== churnlens serve --workers 2 (not the default; for comparison)")
        workers_phase(scratch, tracking, score_body, args.short, loads)

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
        list_phase(ws10k, tracking, scratch, args.short, loads)

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
    print_targets(loads, batches, ratio8)
    if newest_mtime(args.workspace) != untouched:
        print(f"WARNING: something under {args.workspace} changed during the run")
    print(f"\nload generator: wrk -t1 (one thread), keep-alive, 5 s timeout; total "
          f"{time.perf_counter() - started:.0f} s; load average at the end {loadavg()}")


if __name__ == "__main__":
    main()
