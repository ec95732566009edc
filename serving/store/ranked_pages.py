"""Ranked-list pages as JSON, each worked out once per scoring run.

A stored run never changes, so one page of it (a sort, filters, a page number) is the
same answer every time until a newer run arrives or an older one is inserted before it
or pruned (either changes its "what changed since the previous run" columns). The key is
therefore (run, previous run, query), each run known by its id and when it was written,
since SQLite gives a deleted run's id to the next run written. Once a page has been asked
for it costs no further work. Many CSMs opening the first page of their book is the
common case this serves; the store answers everything else. Pruning keeps the newest
run, so the latest run's page is never of a pruned run (a page of a pruned run asked for
by id is an unknown run); pages of pruned runs are no longer asked for and leave memory
as newer ones come in.

Which run is newest is asked of the store about once per `FRESH_SECONDS`, by one request
at a time: `remembered` answers a known page without any I/O (so the API can reply from
the event loop) and, once that answer is older than `FRESH_SECONDS`, sends just one
caller to `json` to ask again while the others keep the answer they have. Sending every
caller of that moment to the store at once made a queue of threads that held up the
event loop for a tenth of a second. A run written or pruned meanwhile shows up within
about `FRESH_SECONDS`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
import time
from collections import OrderedDict
from dataclasses import fields, is_dataclass
from typing import Any

from serving.store.score_store import ListQuery, RunSummary, ScoreStore

FRESH_SECONDS = 1.0
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


class RankedPages:
    """The store's ranked pages as JSON bytes, remembering the `remember` latest asked."""

    def __init__(self, store: ScoreStore, remember: int = 1024) -> None:
        self.store = store
        self._remember = remember
        self._known: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self._lock = threading.Lock()
        self._newest: tuple[float, Any] | None = None  # (when asked, (run, previous))
        self._asking = False  # a caller has been sent to ask for the newest run

    def remembered(self, query: ListQuery) -> bytes | None:
        """The page if it is known, or None: then call `json`. Does no I/O.

        None also goes to one caller (a time) once the newest run was last asked for
        more than `FRESH_SECONDS` ago, so that caller's `json` asks again."""
        newest = self._newest
        if query.run_id is not None or newest is None:
            return None
        if time.monotonic() - newest[0] > FRESH_SECONDS:
            with self._lock:
                if not self._asking:
                    self._asking = True
                    return None
        run, previous = newest[1]
        if run is None:
            return None
        return self._lookup(self._key(run, previous, query))

    def json(self, query: ListQuery) -> bytes:
        """The page `query` asks for, as the JSON body of GET /v1/accounts."""
        asked = time.monotonic()
        try:
            run, previous = self.store.position(query.run_id)
        finally:
            self._asking = False
        if query.run_id is None:
            self._newest = (asked, (run, previous))
        if run is None:
            return self._encode(self.store.ranked(query))
        key = self._key(run, previous, query)
        found = self._lookup(key)
        if found is not None:
            return found
        body = self._encode(self.store.ranked(dataclasses.replace(query, run_id=run.id),
                                              (run, previous)))
        with self._lock:
            self._known[key] = body
            while len(self._known) > self._remember:
                self._known.popitem(last=False)
        return body

    @staticmethod
    def _key(run: RunSummary, previous: RunSummary | None, query: ListQuery
             ) -> tuple[Any, ...]:
        before = None if previous is None else (previous.id, previous.created_at)
        return (run.id, run.created_at, before, dataclasses.replace(query, run_id=None))

    def _lookup(self, key: tuple[Any, ...]) -> bytes | None:
        with self._lock:
            found = self._known.get(key)
            if found is not None:
                self._known.move_to_end(key)
            return found

    @staticmethod
    def _encode(page: Any) -> bytes:
        return _dumps(jsonable(page)).encode()


def jsonable(value: Any) -> Any:
    """Dataclasses, dates and nested containers as JSON-ready values.

    Walks fields directly: `dataclasses.asdict` deep-copies everything first, which
    doubled the cost of a page of ranked accounts.
    """
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value
