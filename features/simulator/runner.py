"""Run the simulator: accounts in chunks, each chunk's tables appended to disk as it is made.

Memory stays flat in the number of accounts (one chunk of records at a time), and the
output does not depend on the chunk size because every account draws from its own
random streams (`population.account_streams`). Files carry no wall-clock data, so the
same config gives byte-identical files.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import pyarrow as pa

from features.simulator.config import SimulationConfig
from features.simulator.dynamics import AccountDynamics, World, simulate_dynamics
from features.simulator.noise import add_usage_noise
from features.simulator.notes import simulate_notes
from features.simulator.population import account_streams, build_population
from features.simulator.records import NoteRecords, SurveyRecords, TicketRecords, UsageRecords
from features.simulator.risk import RiskTables, account_risk
from features.simulator.support import simulate_tickets
from features.simulator.surveys import simulate_surveys
from features.simulator.tables import SCHEMAS, TRUTH_SCHEMAS, ChunkTables
from features.simulator.timeline import build_timeline
from features.simulator.usage import after_product_change, simulate_usage
from features.simulator.writer import Format, TableSink

logger = logging.getLogger(__name__)

DATASET_FILE = "dataset.json"
TRUTH_DIR = "_truth"
GENERATOR = "churnlens simulate"

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class SimulationSummary:
    """What a run wrote: rows per table, where, and how long it took."""

    out: Path
    rows: dict[str, int]
    paths: dict[str, Path]
    elapsed_seconds: float
    truth_paths: dict[str, Path] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def build_world(config: SimulationConfig) -> World:
    timeline = build_timeline(
        config.start, config.n_days, config.usage.weekday_factors, config.usage.holiday_factor
    )
    return World(config=config, timeline=timeline, population=build_population(config, timeline),
                 drift_reached=config.drift.reached(config.seed, config.n_accounts))


def _chunks(config: SimulationConfig) -> list[tuple[int, int]]:
    n, size = config.n_accounts, config.chunk_size
    return [(lo, min(lo + size, n)) for lo in range(0, n, size)]


class Truth(NamedTuple):
    """The hidden side of a run: what `_truth/` holds, as Arrow tables."""

    terms: pa.Table
    shocks: pa.Table
    risk_as_of: pa.Table | None  # None when not asked for


def simulate_truth(config: SimulationConfig, risk_as_of: bool = True) -> Truth:
    """Only the hidden side, identical to a full run's `_truth/`.

    Much cheaper than `simulate` (no signals), for studying churn rates on many accounts;
    ``risk_as_of=False`` also skips the risk at each snapshot date (`risk`), which adds
    about half to the cost of the terms and shocks.
    """
    world = build_world(config)
    risk = RiskTables(config, world.timeline)
    terms, shocks, as_of = [], [], []
    for lo, hi in _chunks(config):
        dyns = [
            simulate_dynamics(world, i, account_streams(config.seed, i).dynamics)
            for i in range(lo, hi)
        ]
        tables = ChunkTables(world, lo, hi)
        _, chunk_terms, chunk_shocks = tables.subscriptions_and_truth(dyns)
        terms.append(chunk_terms)
        shocks.append(chunk_shocks)
        if risk_as_of:
            as_of.append(tables.risk_as_of(dyns, [account_risk(risk, world, d) for d in dyns]))
    return Truth(
        pa.concat_tables(terms),
        pa.concat_tables(shocks),
        pa.concat_tables(as_of) if risk_as_of else None,
    )


def simulate(
    config: SimulationConfig,
    out: Path,
    fmt: Format = "parquet",
    progress: Progress | None = None,
) -> SimulationSummary:
    """Simulate ``config`` into ``out/<table>.<fmt>``, ``out/_truth/`` and ``out/dataset.json``."""
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"format must be 'parquet' or 'csv', not {fmt!r}")
    started = time.perf_counter()
    out = Path(out)
    (out / TRUTH_DIR).mkdir(parents=True, exist_ok=True)
    world = build_world(config)
    logger.info(
        "simulating %d accounts from %s to %s (seed %d) into %s",
        config.n_accounts, config.start, config.end, config.seed, out,
    )  # fmt: skip

    paths = {name: out / f"{name}.{fmt}" for name in SCHEMAS}
    truth_paths = {name: out / TRUTH_DIR / f"{name}.parquet" for name in TRUTH_SCHEMAS}
    sinks = {name: TableSink(paths[name], SCHEMAS[name], fmt) for name in SCHEMAS}
    truth = {name: TableSink(truth_paths[name], s, "parquet") for name, s in TRUTH_SCHEMAS.items()}
    risk = RiskTables(config, world.timeline)
    try:
        for lo, hi in _chunks(config):
            _simulate_chunk(world, risk, lo, hi, sinks, truth)
            logger.debug("accounts %d-%d written", lo + 1, hi)
            if progress is not None:
                progress(hi, config.n_accounts)
    finally:
        for sink in (*sinks.values(), *truth.values()):
            sink.close()

    dataset = {
        "name": "simulated",
        "data_end": config.end.isoformat(),
        "seed": config.seed,
        "generator": GENERATOR,
        "config": config.model_dump(mode="json"),
    }
    (out / DATASET_FILE).write_text(json.dumps(dataset, indent=2) + "\n", encoding="utf-8")
    elapsed = time.perf_counter() - started
    rows = {name: sink.rows for name, sink in sinks.items()}
    logger.info("wrote %d rows in %.1f s", sum(rows.values()), elapsed)
    return SimulationSummary(
        out=out,
        rows=rows,
        paths={**paths, "dataset": out / DATASET_FILE},
        elapsed_seconds=elapsed,
        truth_paths=truth_paths,
    )


def _simulate_chunk(
    world: World,
    risk: RiskTables,
    lo: int,
    hi: int,
    sinks: dict[str, TableSink],
    truth: dict[str, TableSink],
) -> None:
    config = world.config
    dyns: list[AccountDynamics] = []
    usage: list[UsageRecords] = []
    tickets: list[TicketRecords] = []
    surveys: list[SurveyRecords] = []
    notes: list[NoteRecords] = []
    for i in range(lo, hi):
        streams = account_streams(config.seed, i)
        dyn = simulate_dynamics(world, i, streams.dynamics)
        dyns.append(dyn)
        seats = dyn.contracts.seats_by_day(dyn.first_day)
        usage_rng, support_rng, survey_rng, notes_rng = streams.signals.spawn(4)
        raw_usage = simulate_usage(usage_rng, world, dyn, seats)
        usage.append(after_product_change(
            world, dyn, add_usage_noise(usage_rng, raw_usage, config.noise)))
        tickets.append(simulate_tickets(support_rng, world, dyn, seats))
        surveys.append(simulate_surveys(survey_rng, world, dyn))
        notes.append(simulate_notes(notes_rng, world, dyn))

    tables = ChunkTables(world, lo, hi)
    subscriptions, terms, shocks = tables.subscriptions_and_truth(dyns)
    sinks["accounts"].write(tables.accounts())
    sinks["subscriptions"].write(subscriptions)
    sinks["usage_events"].write(tables.usage(UsageRecords.concat(usage)))
    sinks["tickets"].write(tables.tickets(TicketRecords.concat(tickets)))
    sinks["surveys"].write(tables.surveys(SurveyRecords.concat(surveys)))
    sinks["csm_notes"].write(tables.notes(NoteRecords.concat(notes)))
    truth["terms"].write(terms)
    truth["shocks"].write(shocks)
    truth["risk_as_of"].write(tables.risk_as_of(dyns, [account_risk(risk, world, d) for d in dyns]))
