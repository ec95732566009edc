"""Ranked-list pages as JSON, each worked out once per scoring run.

A stored run never changes, so one page of it (a sort, filters, a page number) is the
same answer every time until a newer run arrives or an older one is inserted before it
(which changes its "what changed since the previous run" columns). The key is therefore
(run, previous run, query): each request costs one small query for the newest two runs
and, once the page has been asked for, no further work. Many CSMs opening the first page
of their book is the common case this serves; the store answers everything else.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
from collections import OrderedDict
from dataclasses import fields, is_dataclass
from typing import Any

from serving.store import ListQuery, ScoreStore

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


class RankedPages:
    """The store's ranked pages as JSON bytes, remembering the `remember` latest asked."""

    def __init__(self, store: ScoreStore, remember: int = 1024) -> None:
        self.store = store
        self._remember = remember
        self._known: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def json(self, query: ListQuery) -> bytes:
        """The page `query` asks for, as the JSON body of GET /v1/accounts."""
        run, previous = self.store.position(query.run_id)
        if run is None:
            return self._encode(self.store.ranked(query))
        key = (run.id, run.created_at, previous, dataclasses.replace(query, run_id=None))
        with self._lock:
            found = self._known.get(key)
            if found is not None:
                self._known.move_to_end(key)
                return found
        body = self._encode(self.store.ranked(dataclasses.replace(query, run_id=run.id)))
        with self._lock:
            self._known[key] = body
            while len(self._known) > self._remember:
                self._known.popitem(last=False)
        return body

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
