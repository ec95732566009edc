"""Data-quality noise on usage events, as real pipelines deliver them.

* missing days: an ingestion gap drops all of an account's usage rows for that day;
* duplicates: a small share of rows is delivered twice (exact copies);
* late events: a small share of rows arrives late and sits at the end of the account's
  block, out of time order (the timestamp itself is the true event time).

Feature code must cope with all three; none of them moves a record out of the window.
"""

from __future__ import annotations

import numpy as np

from features.simulator.config import NoiseConfig
from features.simulator.records import UsageRecords
from features.simulator.timeline import US_PER_DAY


def add_usage_noise(
    rng: np.random.Generator, records: UsageRecords, cfg: NoiseConfig
) -> UsageRecords:
    if len(records) == 0:
        return records
    day = records.ts // US_PER_DAY
    first = int(day.min())
    lost = rng.random(int(day.max()) - first + 1) < cfg.missing_day_share
    records = records.take(np.flatnonzero(~lost[day - first]))
    copies = 1 + (rng.random(len(records)) < cfg.duplicate_share)
    records = records.take(np.repeat(np.arange(len(records)), copies))
    late = rng.random(len(records)) < cfg.late_share
    return records.take(np.concatenate([np.flatnonzero(~late), np.flatnonzero(late)]))
