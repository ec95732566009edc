"""CSM notes of one account: sentiment that follows health with a lag and is sometimes wrong.

Routine notes come at a segment cadence (enterprise CSMs write far more often). The
CSM's read is the health ``lag_days`` earlier plus noise, and ``wrong_share`` of notes
carry a random sentiment. Visible events (champion left, incident, fit problems, stalled
onboarding) trigger a note a few days later naming the event; of the unforeseeable shocks
a budget cut is noted only sometimes (``fingerprints.budget_note_share``) and an
acquisition never.
"""

from __future__ import annotations

import numpy as np

from features.simulator.dynamics import AccountDynamics, World
from features.simulator.events import HEALTH_SHOCKS, SENTIMENTS, SHOCK_TYPES
from features.simulator.fingerprints import BUDGET_CUT
from features.simulator.population import business_seconds
from features.simulator.records import NoteRecords
from features.simulator.texts import NOTE_EVENT_INDEX, NOTE_SENTIMENT_COUNT, NOTE_SENTIMENT_START
from features.simulator.timeline import US_PER_SECOND

_TEXT_START = np.array([NOTE_SENTIMENT_START[s] for s in SENTIMENTS], dtype=np.int32)
_EVENT_TEXT = {SHOCK_TYPES.index(k): NOTE_EVENT_INDEX[k] for k in HEALTH_SHOCKS}
_BUDGET_TEXT = NOTE_EVENT_INDEX["budget_cut"]
_RED = SENTIMENTS.index("red")
READ_NOISE = 0.08
MAX_TRIGGER_DELAY_DAYS = 20


def simulate_notes(rng: np.random.Generator, world: World, dyn: AccountDynamics) -> NoteRecords:
    n = dyn.n_active_days
    if n == 0:
        return NoteRecords.empty()
    nc = world.config.notes
    seg = world.config.segments.ordered()[dyn.segment]
    score = dyn.health.channel("relationship")[:n]

    routine = rng.integers(0, n, size=int(rng.poisson(seg.csm_notes_per_year * n / 365.25)))
    events = [s for s in dyn.health.shocks if s.kind in _EVENT_TEXT]
    # A budget cut is noted only sometimes: the customer often keeps it to itself.
    budget = [s for s in dyn.health.shocks if s.kind == BUDGET_CUT]
    told = rng.random(len(budget)) < world.config.fingerprints.budget_note_share
    events += [s for s, t in zip(budget, told, strict=True) if t]
    delay = rng.integers(2, MAX_TRIGGER_DELAY_DAYS, size=len(events))
    trigger = np.array([s.day - dyn.first_day for s in events], dtype=np.int64) + delay
    trigger_text = np.array([_EVENT_TEXT.get(s.kind, _BUDGET_TEXT) for s in events],
                            dtype=np.int32)
    seen = trigger < n
    trigger, trigger_text = trigger[seen], trigger_text[seen]

    read = score[np.maximum(routine - nc.lag_days, 0)] + rng.normal(0, READ_NOISE, len(routine))
    sentiment = np.where(read < nc.red_below, 0, np.where(read < nc.green_above, 1, 2))
    wrong = rng.random(len(routine)) < nc.wrong_share
    sentiment = np.where(wrong, rng.integers(0, len(SENTIMENTS), len(routine)), sentiment)
    text = _TEXT_START[sentiment] + rng.integers(0, NOTE_SENTIMENT_COUNT, len(routine))

    day = np.concatenate([routine, trigger])
    m = len(day)
    sentiments = np.concatenate([sentiment, np.full(len(trigger), _RED)]).astype(np.int8)
    texts = np.concatenate([text, trigger_text]).astype(np.int32)
    ts = world.timeline.day_us(dyn.first_day + day) + (
        business_seconds(rng, dyn.region, m) * US_PER_SECOND
    )
    order = np.argsort(ts, kind="stable")
    return NoteRecords(
        account=np.full(m, dyn.index, dtype=np.int32),
        ts=ts[order],
        sentiment=sentiments[order],
        text=texts[order],
    )
