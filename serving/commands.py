"""`churnlens` commands of the serving stage: score, rank, prune-runs, serve (and, from
`serving.access.commands`, keys and audit).

Commands parse options and call library functions; heavy imports stay inside them.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import secrets
import sys
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from features.atomic import atomic_write_text
from features.cli import ClusterOption, DataOption
from serving.access import commands as access_commands
from serving.access.commands import EXAMPLE_REQUEST
from serving.alerts import commands as alert_commands
from serving.monitoring import commands as monitor_commands

if TYPE_CHECKING:
    from serving.store.score_store import PruneResult, RunSummary

log = logging.getLogger(__name__)



class Sort(StrEnum):
    risk = "risk"
    arr_at_risk = "arr_at_risk"


class Band(StrEnum):
    high = "high"
    medium = "medium"
    low = "low"


def score(
    as_of: Annotated[str | None, typer.Option(help="Score as of this day, YYYY-MM-DD "
                                              "(default: the day after the data ends).",
                                              show_default=False)] = None,
    data: DataOption = None,
    shadow: Annotated[str | None, typer.Option(
        help="Also score the same accounts with the model of this alias (e.g. challenger) "
             "and store its scores as a shadow run, never shown to CSMs, so `churnlens "
             "monitor` compares both as renewals resolve.", show_default=False)] = None,
    monitor: Annotated[bool, typer.Option(help="Judge the run (and the newest earlier "
                                          "ones) afterwards, as `churnlens monitor` does.")
                       ] = True,
    alerts: Annotated[bool, typer.Option(help="Evaluate the alert rules on the run "
                                         "afterwards, as `churnlens alerts evaluate` does.")
                      ] = True,
    history: Annotated[int, typer.Option(min=0, max=36, help="First score the first day "
                                         "of each of this many months before as_of, oldest "
                                         "first (skipping dates already stored), so a new "
                                         "workspace has score history and alerts (their "
                                         "alerts send no webhooks).")] = 0,
    cluster: ClusterOption = None,
) -> None:
    """Score every active account with the champion and store the run with its reasons.

    The run (model version, as_of, created_at, one row per account) is written in one
    transaction: a failure leaves no partial run. Earlier runs are kept for history until
    `churnlens prune-runs` deletes them. Afterwards the newest runs are judged for drift
    and realised performance (`churnlens monitor`) and the verdict printed, and the alert
    rules evaluated on it (`churnlens alerts`); webhooks go out from the delivery worker.
    Parquet usage is read only as far back as the features and evidence look, plus each
    account and event type's last use; `churnlens validate` checks every row. A --data
    made by `churnlens partition` is scored one account bucket at a time (the same run,
    with memory set by one bucket), here or on a Dask cluster (--cluster).
    """
    import datetime as dt

    from features.distributed.cluster import ClusterChoice, bucket_runner, parse_cluster
    from features.errors import ChurnlensError, ConfigError
    from features.settings import get_settings
    from features.sources.buckets import is_partitioned, load_outcomes, read_manifest
    from features.sources.loading import Sources, load_sources
    from serving.batch import (
        BatchResult,
        Shadow,
        day_after,
        monthly_history,
        run_batch,
        run_partitioned,
        scoring_reach,
    )
    from serving.risk import Bands
    from serving.store.score_store import ScoreStore
    from training.registry import load_version
    from training.tracking import mlflow_client

    settings = get_settings()
    day = None
    if as_of is not None:
        try:
            day = dt.date.fromisoformat(as_of)
        except ValueError:
            raise typer.BadParameter(f"{as_of!r} is not a date; use YYYY-MM-DD.") from None
    location = str(data) if data is not None else str(settings.sources_dir)
    where = parse_cluster(cluster)
    partitioned = is_partitioned(location)
    if cluster is not None and where.kind != "none" and not partitioned:
        raise ConfigError(f"--cluster {where} works on account buckets, and {location} is "
                          f"not partitioned. Run `churnlens partition --data {location} "
                          f"--out DIR` and score --data DIR.")
    client = mlflow_client()
    model, version = load_version(client)
    shadowing = None
    if shadow is not None:
        shadow_model, shadow_version = load_version(client, alias=shadow)
        if shadow_version == version:
            raise typer.BadParameter(f"--shadow {shadow} is version {version}, the champion "
                                     f"itself; name an alias of another version.")
        shadowing = Shadow(shadow_model, shadow_version)
    sources: Sources | None = None
    if partitioned:
        data_end = read_manifest(location).data_end
    else:
        sources = load_sources(location, usage_reach=scoring_reach(day, history))
        data_end = sources.data_end
    store = ScoreStore(settings.score_store)
    judged = []
    alerted = None
    bands = Bands(settings.band_high, settings.band_medium)
    with bucket_runner(where if partitioned else ClusterChoice("none")) as runner:

        def run(when: dt.date | None, shadowed: Shadow | None = None) -> BatchResult:
            if sources is not None:
                return run_batch(sources, model, version, store, when, bands,
                                 settings.grace_days, shadowed)
            return run_partitioned(location, model, version, store, when, bands,
                                   settings.grace_days, shadowed, runner=runner)

        try:
            stored = {run_.as_of for run_ in store.runs(limit=1000)}
            for past in monthly_history(day or day_after(data_end), history):
                if past in stored:
                    continue
                earlier = run(past)
                typer.echo(f"History: scoring run {earlier.run_id}, {earlier.accounts:,} "
                           f"accounts as of {past}.")
                said = (alert_commands.after_score(store, earlier.run_id, webhooks=False)
                        if alerts else None)
                if said is not None:
                    typer.echo(f"  {said}")
            result = run(day, shadowing)
            if monitor:
                try:
                    outcomes = sources if sources is not None else load_outcomes(location)
                    judged = monitor_commands.judge_and_log(
                        store, store.runs(limit=monitor_commands.RUNS_JUDGED), outcomes)
                except ChurnlensError as exc:  # the run is stored; judging it can wait
                    log.warning("scoring run %d is stored, but judging it failed: %s Run "
                                "`churnlens monitor` once that is fixed.", result.run_id, exc)
            if alerts:
                alerted = alert_commands.after_score(store, result.run_id)
        finally:
            store.dispose()
    example = settings.home / EXAMPLE_REQUEST
    atomic_write_text(example, json.dumps(result.example_request, indent=1) + "\n")
    typer.echo(f"Scoring run {result.run_id}: {result.accounts:,} accounts as of "
               f"{result.as_of} with model version {result.model_version} in "
               f"{result.seconds:.1f} s; {result.high_risk:,} at high risk.")
    typer.echo(f"Example POST /v1/score body for two of them: {example}")
    if shadowing is not None:
        typer.echo(f"Shadow: model version {shadowing.version} ({shadow}) scored the same "
                   f"accounts; `churnlens monitor` compares it as renewals resolve.")
    current = next((j for j in judged if j.run.id == result.run_id), None)
    if current is not None:
        typer.echo(f"Monitoring: {current.verdict.level}"
                   + "".join(f"\n  - {reason}" for reason in current.verdict.reasons)
                   + ("" if current.verdict.level == "ok" else
                      "\n  (`churnlens monitor` shows the drift table and realised "
                      "performance)"))
    if alerted is not None:
        typer.echo(alerted)


def rank(
    sort: Annotated[Sort, typer.Option(help="Order by probability or by ARR at risk.")
                    ] = Sort.risk,
    csm_owner: Annotated[str | None, typer.Option(help="Only this CSM's accounts.",
                                                  show_default=False)] = None,
    segment: Annotated[str | None, typer.Option(help="Only this segment.",
                                                show_default=False)] = None,
    band: Annotated[Band | None, typer.Option(help="Only this risk band.",
                                              show_default=False)] = None,
    renewal_within_days: Annotated[int | None, typer.Option(
        min=0, help="Only accounts renewing within this many days of the run's as_of.",
        show_default=False)] = None,
    limit: Annotated[int, typer.Option(min=1, help="Rows to print (CSV export takes all).")
                     ] = 20,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Write every matching row "
                                                 "to this CSV file ('-' for stdout).",
                                                 show_default=False)] = None,
) -> None:
    """The latest scoring run's accounts, ranked, with the same filters as the API."""
    from features.settings import get_settings
    from serving.store.score_store import ListQuery, RankedAccount, ScoreStore

    store = ScoreStore(get_settings().score_store)
    try:
        rows: list[RankedAccount] = []
        page, total = 1, None
        want = None if csv_out is not None else limit
        while total is None or len(rows) < min(total, want or total):
            result = store.ranked(ListQuery(
                sort=sort.value, csm_owner=csm_owner, segment=segment,
                band=band.value if band else None, renewal_within_days=renewal_within_days,
                page=page, per_page=200))
            total = result.total
            rows += result.items
            if not result.items:
                break
            page += 1
        run = result.run
    finally:
        store.dispose()
    if run is None:
        typer.echo("No scoring run yet; run `churnlens score` first.")
        return
    if want is not None:
        rows = rows[:want]
    if csv_out is not None:
        _write_csv(rows, csv_out)
        if str(csv_out) != "-":
            typer.echo(f"Wrote {len(rows):,} accounts to {csv_out}.")
        return
    typer.echo(f"Run {run.id} (as of {run.as_of}, model version {run.model_version}): "
               f"{total:,} matching accounts")
    for i, row in enumerate(rows, 1):
        delta = "" if row.delta is None else f" ({row.delta * 100:+.1f} pts)"
        typer.echo(f"{i:>4}. {row.name:<28.28} {row.csm_owner:<16.16} {row.band:<6} "
                   f"{row.probability:6.1%}{delta:<13} ARR {row.arr:>11,.0f}  "
                   f"{row.top_reason or ''}")


CSV_COLUMNS = ("account_id", "name", "csm_owner", "segment", "arr", "renewal_date",
               "probability", "band", "arr_at_risk", "delta", "top_reason")


def _write_csv(rows: list, target: Path) -> None:
    def write(handle: object) -> None:
        writer = csv.writer(handle)  # type: ignore[arg-type]
        writer.writerow(CSV_COLUMNS)
        for row in rows:
            writer.writerow([getattr(row, c) if getattr(row, c) is not None else ""
                             for c in CSV_COLUMNS])

    if str(target) == "-":
        write(sys.stdout)
        return
    buffer = io.StringIO(newline="")
    write(buffer)
    atomic_write_text(target, buffer.getvalue())


def prune_runs(
    keep: Annotated[int, typer.Option(min=1, help="How many of the newest scoring runs to "
                                      "keep (latest as_of first, then the last written).",
                                      show_default=False)],
    vacuum: Annotated[bool, typer.Option("--vacuum", help="Then return the freed space of "
                                         "a SQLite file to the disk (VACUUM; needs free "
                                         "space about the file's size). PostgreSQL's "
                                         "autovacuum makes it reusable by itself.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say which runs would be "
                                          "deleted; delete nothing.")] = False,
) -> None:
    """Delete all but the newest scoring runs, with their scores, reasons and renewals.

    Every row of the old runs goes in one transaction: a failure deletes nothing. The
    newest run stays, so the ranked list is unchanged (with --keep 1, it no longer shows
    the change since the run before); account history shows only the runs kept. A
    running API copes. A SQLite file keeps the freed space until --vacuum.
    """
    from features.settings import get_settings
    from serving.store.score_store import ScoreStore

    store = ScoreStore(get_settings().score_store)
    try:
        result = store.prune(keep, vacuum=vacuum, dry_run=dry_run)
    finally:
        store.dispose()
    for line in _prune_report(result, keep, vacuum):
        typer.echo(line)


def _prune_report(result: PruneResult, keep: int, vacuum: bool) -> list[str]:
    """One line on the runs, one on the SQLite file's size (or on vacuuming elsewhere)."""
    scores = f"{result.score_rows:,} account score{'' if result.score_rows == 1 else 's'}"
    if result.dry_run:
        lines = [f"Would delete {_runs(result.pruned)} with {scores} and keep "
                 f"{_runs(result.kept)}; nothing was deleted (dry run)."]
    elif result.pruned:
        lines = [f"Deleted {_runs(result.pruned)} with {scores}; kept "
                 f"{_runs(result.kept)}."]
    else:
        lines = [f"Nothing to delete: the store holds {_runs(result.kept)}, no more than "
                 f"--keep {keep}."]
    before, after = result.bytes_before, result.bytes_after
    if before is not None and after is not None:
        if result.dry_run:
            lines.append(f"SQLite file: {_megabytes(before)}.")
        elif result.vacuumed:
            lines.append(f"SQLite file: {_megabytes(before)} before, {_megabytes(after)} "
                         f"after VACUUM.")
        else:
            lines.append(f"SQLite file: {_megabytes(before)} before, {_megabytes(after)} "
                         f"after; --vacuum returns the freed space to the disk.")
    elif vacuum and not result.vacuumed and not result.dry_run:
        lines.append("Nothing to vacuum: the database reclaims the freed space itself "
                     "(PostgreSQL: autovacuum).")
    return lines


def _runs(runs: Sequence[RunSummary]) -> str:
    """'3 runs (ids 1-2, 5, as of 2025-01-01 to 2025-03-01)'; ids as ranges, since
    backfilled runs need not have consecutive ids."""
    if not runs:
        return "no runs"
    spans: list[list[int]] = []
    for run_id in sorted(r.id for r in runs):
        if spans and run_id == spans[-1][1] + 1:
            spans[-1][1] = run_id
        else:
            spans.append([run_id, run_id])
    ids = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)
    first, last = min(r.as_of for r in runs), max(r.as_of for r in runs)
    when = f"as of {first}" if first == last else f"as of {first} to {last}"
    if len(runs) == 1:
        return f"1 run (id {ids}, {when})"
    return f"{len(runs)} runs (ids {ids}, {when})"


def _megabytes(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (default "
                                             "CHURNLENS_HOST or 127.0.0.1).",
                                             show_default=False)] = None,
    port: Annotated[int | None, typer.Option(help="Port (default CHURNLENS_PORT or 8000).",
                                             show_default=False)] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Worker processes (default "
                                                "CHURNLENS_WORKERS or 1).",
                                                show_default=False)] = None,
) -> None:
    """Run the HTTP API and the CSM risk page with uvicorn."""

    import uvicorn

    from features.settings import get_settings, settings_with
    from serving.auth import KeyRing

    settings = settings_with(host=host, port=port, workers=workers)
    # Checked here, where a mistake is one line; in the app's start-up uvicorn would
    # print a traceback before it.
    KeyRing.from_settings(settings)
    # Worker processes rebuild settings from the environment; pass the resolved ones on,
    # with one session secret for all of them (a page session must work on any worker).
    os.environ["CHURNLENS_HOME"] = str(get_settings().home.resolve())
    if settings.session_secret is None:
        os.environ["CHURNLENS_SESSION_SECRET"] = secrets.token_hex(32)
        log.info("CSM page sessions last until the server stops; set "
                 "CHURNLENS_SESSION_SECRET to keep them across restarts")
    log.info("serving on http://%s:%d with %d worker(s); docs at /docs", settings.host,
             settings.port, settings.workers)
    uvicorn.run("serving.app:app", host=settings.host, port=settings.port,
                workers=settings.workers, loop="uvloop", http="httptools",
                log_level="warning", access_log=False)


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the `churnlens` app."""
    app.command()(score)
    app.command()(rank)
    app.command()(prune_runs)
    app.command()(serve)
    app.command()(monitor_commands.monitor)
    alert_commands.register(app)
    access_commands.register(app)
