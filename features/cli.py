"""`churnlens` commands of the features stage: simulate, contract, validate, build.

Commands only parse options and call library functions; heavy imports stay inside them.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from features.simulator import SimulationConfig

log = logging.getLogger(__name__)

# Text, not a Path: a Path would fold the `//` of a URL such as sqlite:///crm.db.
DataOption = Annotated[
    str | None,
    typer.Option("--data", help="Source-table directory or SQLAlchemy URL "
                 "(default <home>/sources).", show_default=False),
]
ClusterOption = Annotated[
    str | None,
    typer.Option("--cluster", help="Where the buckets of a partitioned --data are worked "
                 "on: none (here, in turn), local[:N] (N Dask worker processes here) or "
                 "tcp://HOST:8786 (a Dask scheduler). Default: $CHURNLENS_DASK_SCHEDULER, "
                 "else none. local and tcp need the dask extra.", show_default=False),
]
DataEndOption = Annotated[
    str | None,
    typer.Option("--data-end", help="Last day the data covers, YYYY-MM-DD (default: "
                 "dataset.json's data_end, else the latest record's day).", show_default=False),
]


class DataFormat(StrEnum):
    parquet = "parquet"
    csv = "csv"


class Frequency(StrEnum):
    monthly = "monthly"
    weekly = "weekly"


class TermMix(StrEnum):
    mixed = "mixed"
    monthly = "monthly"
    annual = "annual"


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date; use YYYY-MM-DD.") from None


def simulate(
    accounts: Annotated[int, typer.Option(min=1, help="Number of customer accounts.")] = 2000,
    start: Annotated[str, typer.Option(help="First simulated day, YYYY-MM-DD.")] = "2023-01-01",
    end: Annotated[str, typer.Option(help="Last simulated day, YYYY-MM-DD.")] = "2025-12-31",
    seed: Annotated[int, typer.Option(min=0, help="Random seed; the same seed gives "
                                      "byte-identical tables.")] = 0,
    out: Annotated[Path | None, typer.Option(help="Directory to write (default "
                                             "<home>/sources).", show_default=False)] = None,
    fmt: Annotated[DataFormat, typer.Option("--format", help="File format of the six source "
                                            "tables.")] = DataFormat.parquet,
    if_missing: Annotated[bool, typer.Option("--if-missing", help="Do nothing when OUT "
                                             "already holds a dataset.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace whatever OUT holds.")] = False,
    terms: Annotated[TermMix, typer.Option(help="Contract terms: each segment's mix, or "
                                           "every term monthly or annual.")] = TermMix.mixed,
    usage_only: Annotated[bool, typer.Option("--usage-only", help="Write accounts, "
                                             "subscriptions and usage only, as a base with "
                                             "no ticketing, survey or CSM tool.")] = False,
    subscriptions_end: Annotated[str | None, typer.Option(
        help="Export the subscriptions as of this earlier day, YYYY-MM-DD (terms starting "
             "later are left out) and state no data end, as when billing was exported "
             "before product analytics.", show_default=False)] = None,
    drift_from: Annotated[str | None, typer.Option(
        help="From this day, YYYY-MM-DD, a product change cuts the logins and session minutes "
             "of a share of the accounts (their churn risk unchanged): a base for testing "
             "monitoring.",
        show_default=False)] = None,
    drift_share: Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of accounts "
                                               "the --drift-from change reaches.")] = 0.5,
) -> None:
    """Simulate a B2B SaaS customer base: the six source tables plus `_truth/`.

    Accounts sign and renew contracts, use the product, open tickets, answer surveys and
    get CSM notes, driven by a hidden health process; `_truth/` holds each term's true
    churn probability and cause, which no model may see. The dataset appears in OUT only
    when complete. --terms, --usage-only and --subscriptions-end shape it like the partial
    exports real teams bring (a short history is --start/--end). --drift-from makes a
    base whose usage shifts, to see `churnlens monitor` catch it.
    """
    from features.settings import get_settings
    from features.simulator.exports import ExportShape
    from features.simulator.publish import is_simulated_dataset, simulate_into

    target = out if out is not None else get_settings().sources_dir
    if if_missing and is_simulated_dataset(target):
        typer.echo(f"{target} already holds a dataset; kept it (--if-missing).")
        return
    config = _simulation_config(accounts, start, end, seed, drift_from, drift_share)
    if terms is not TermMix.mixed:
        config = config.model_copy(update={"segments": config.segments.with_terms(
            1 if terms is TermMix.monthly else 12)})
    shape = ExportShape(usage_only, _date(subscriptions_end) if subscriptions_end else None)
    if shape.subscriptions_end is not None and not (
            config.start < shape.subscriptions_end < config.end):
        raise typer.BadParameter(f"--subscriptions-end {subscriptions_end} must lie between "
                                 f"--start {start} and --end {end}.")

    def progress(done: int, total: int) -> None:
        log.info("simulated %d of %d accounts", done, total)

    summary = simulate_into(config, target, fmt.value, replace=force, progress=progress,
                            shape=shape)
    typer.echo(f"Simulated {accounts:,} accounts from {config.start} to {config.end} "
               f"(seed {seed}) in {summary.elapsed_seconds:.1f} s:")
    for name, rows in summary.rows.items():
        typer.echo(f"  {name:<14} {rows:>12,d} rows")
    typer.echo(str(summary.out))


def _simulation_config(accounts: int, start: str, end: str, seed: int,
                       drift_from: str | None = None, drift_share: float = 0.5
                       ) -> SimulationConfig:
    from pydantic import ValidationError

    from features.errors import ConfigError
    from features.simulator import SimulationConfig
    from features.simulator.config import DriftConfig

    drift = DriftConfig(from_date=_date(drift_from) if drift_from else None, share=drift_share)
    try:
        return SimulationConfig(n_accounts=accounts, start=_date(start), end=_date(end),
                                seed=seed, drift=drift)
    except ValidationError as exc:
        problems = "; ".join(str(err["msg"]) for err in exc.errors())
        raise ConfigError(f"Cannot simulate from {start} to {end}: {problems}.") from None


def build(
    data: DataOption = None,
    data_end: DataEndOption = None,
    start: Annotated[str | None, typer.Option(
        help="First as_of, YYYY-MM-DD (default: the first date with 90 days of activity "
             "history; 28 days when the history is shorter than 360 days).",
        show_default=False)] = None,
    end: Annotated[str | None, typer.Option(help="Last as_of, YYYY-MM-DD (default: the data's "
                                            "end).", show_default=False)] = None,
    freq: Annotated[Frequency, typer.Option(help="Snapshot grid: the first day of each month "
                                            "or each Monday.")] = Frequency.monthly,
    dates: Annotated[str | None, typer.Option(help="Explicit as_of dates, comma-separated, "
                                              "instead of --start/--end/--freq.",
                                              show_default=False)] = None,
    name: Annotated[str, typer.Option(help="Training-set name: the folder under "
                                      "<home>/training_sets.")] = "default",
    out: Annotated[Path | None, typer.Option(help="Write to this Parquet file instead of "
                                             "<home>/training_sets/NAME/HASH.parquet.",
                                             show_default=False)] = None,
    cluster: ClusterOption = None,
) -> None:
    """Build a point-in-time training set: one row per active account and as_of.

    Every feature uses only records dated before its as_of; the label `churned` is set
    where the term's outcome is known by the data's end and left empty otherwise. Writes
    the Parquet file and a manifest beside it, and prints the file's path last. A --data
    made by `churnlens partition` is built one account bucket at a time (the same rows,
    with memory set by one bucket), here or on a Dask cluster (--cluster).
    """
    from pydantic import ValidationError

    from features.distributed.cluster import bucket_runner, parse_cluster
    from features.errors import ConfigError
    from features.point_in_time.artifacts import manifest_path, write_training_set
    from features.point_in_time.bucketed import write_bucketed
    from features.point_in_time.spec import TrainingSetSpec
    from features.point_in_time.training_set import build_training_set
    from features.settings import get_settings
    from features.sources.buckets import is_partitioned, read_manifest
    from features.sources.loading import load_sources

    settings = get_settings()
    try:
        spec = TrainingSetSpec(
            name=name,
            start=_date(start) if start else None,
            end=_date(end) if end else None,
            freq=freq.value,
            dates=tuple(_date(d.strip()) for d in dates.split(",") if d.strip()) if dates else None,
            grace_days=settings.grace_days,
        )
    except ValidationError as exc:
        problems = "; ".join(str(err["msg"]) for err in exc.errors())
        raise ConfigError(f"Cannot build that training set: {problems}.") from None
    location = resolve_data(None, data)
    where = parse_cluster(cluster)
    if is_partitioned(location):
        refuse_data_end(location, data_end)
        with bucket_runner(where) as runner:
            path = write_bucketed(location, spec, read_manifest(location).whole_base(location),
                                  runner=runner, workspace=settings.home, out=out,
                                  progress=lambda done, total:
                                  log.info("built bucket %d of %d", done, total))
    else:
        if cluster is not None and where.kind != "none":  # the variable's default is moot
            raise ConfigError(f"--cluster {where} works on account buckets, and {location} "
                              f"is not partitioned. Run `churnlens partition --data "
                              f"{location} --out DIR` and build --data DIR.")
        sources = load_sources(location, data_end)
        timings: dict[str, float] = {}
        frame = build_training_set(sources, spec, timings)
        log.info("build time by step: %s",
                 ", ".join(f"{step} {seconds:.1f} s" for step, seconds in timings.items()))
        path = write_training_set(frame, spec, sources, workspace=settings.home, out=out)
    written = json.loads(manifest_path(path).read_text())
    typer.echo(f"{written['rows']:,} snapshots ({written['labelled']:,} labelled, "
               f"{written['churned']:,} churned) with {len(written['features'])} features.")
    typer.echo(str(path))


def partition(
    out: Annotated[Path, typer.Option("--out", help="Directory to write (must not exist).")],
    data: DataOption = None,
    data_end: DataEndOption = None,
    buckets: Annotated[int, typer.Option(min=1, max=4096, help="Account buckets: "
                                         "crc32(account_id) mod this.")] = 16,
) -> None:
    """Split a source into account buckets, as hive-style Parquet per table
    (`usage_events/bucket=007/part-0.parquet`) with a manifest, so `churnlens build`,
    `score` and `validate --data OUT` work one bucket at a time. Rows of every kind of
    source (Parquet, CSV, a database) go to their bucket as they are read, then each
    bucket is typed and checked; every problem is reported by source row, and the output
    appears only when complete."""
    from features.sources.partitioning import partition as write_buckets

    location = resolve_data(None, data)
    manifest = write_buckets(location, out, buckets, data_end)
    typer.echo(f"{location}: {sum(manifest.rows.values()):,} rows of {len(manifest.rows)} "
               f"tables in {buckets} account buckets at {out}.")


def validate(
    data_arg: Annotated[
        str | None,
        typer.Argument(metavar="[DATA]", help="Source directory or SQLAlchemy URL; same as --data.",
                       show_default=False),
    ] = None,
    data: DataOption = None,
    data_end: DataEndOption = None,
) -> None:
    """Check source tables against the data contract and summarise the customer base.

    Exits non-zero with every problem found (table, column, example rows and the fix)
    when the data breaks the contract. A --data made by `churnlens partition` (which
    checks every bucket as it writes them) is checked again bucket by bucket.
    """
    from features.analysis.summary import render_summary, summarize, summarize_partitioned
    from features.settings import get_settings
    from features.sources.buckets import check_buckets, is_partitioned, read_manifest
    from features.sources.loading import load_sources

    location = resolve_data(data_arg, data)
    if is_partitioned(location):
        refuse_data_end(location, data_end)
        manifest = read_manifest(location)
        check_buckets(location, manifest)
        typer.echo(f"{location}: valid against the source-data contract (v1), checked "
                   f"bucket by bucket ({manifest.buckets} buckets).\n")
        typer.echo(render_summary(summarize_partitioned(location, get_settings().grace_days)))
        return
    sources = load_sources(location, data_end)
    typer.echo(f"{location}: valid against the source-data contract (v1).\n")
    typer.echo(render_summary(summarize(sources, get_settings().grace_days)))


def contract() -> None:
    """Print the source-data contract: tables, columns, types and rules, as Markdown."""
    from features.sources.contract import describe_contract

    typer.echo(describe_contract())


def refuse_data_end(location: str, data_end: str | None) -> None:
    """A partitioned source's data end was fixed when it was partitioned."""
    from features.errors import ConfigError

    if data_end is not None:
        raise ConfigError(f"{location} is partitioned: its data end was fixed then. "
                          f"Partition the source again with --data-end to change it.")


def resolve_data(positional: str | None, option: Path | str | None) -> str:
    """The source location from a positional DATA, --data, or the workspace default."""
    from features.errors import ConfigError
    from features.settings import get_settings

    if positional is not None and option is not None and str(positional) != str(option):
        raise ConfigError(f"Give the data location once: DATA is {positional} but --data is "
                          f"{option}.")
    chosen = positional if positional is not None else option
    return str(chosen) if chosen is not None else str(get_settings().sources_dir)


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the `churnlens` app."""
    app.command()(simulate)
    app.command()(validate)
    app.command()(build)
    app.command()(partition)
    app.command()(contract)
