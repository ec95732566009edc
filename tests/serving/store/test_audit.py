"""The audit log: days are UTC and both ends count; a failed write never raises."""

from __future__ import annotations

import datetime as dt
import logging

from serving.store.audit import AuditEvent, AuditLog, render
from serving.store.score_store import ScoreStore


def _at(day: int, hour: int) -> dt.datetime:
    return dt.datetime(2026, 12, day, hour, tzinfo=dt.UTC)


def test_events_between_two_days_both_included(tmp_path):
    with ScoreStore(f"sqlite:///{tmp_path / 'scores.db'}") as store:
        log = AuditLog(store)
        for day, hour in [(1, 23), (2, 0), (3, 23), (4, 0)]:
            log.record(AuditEvent("export", "ok", "ab12cd34", "viewer", "nadia",
                                  "=cmd|' /C calc'!A0", at=_at(day, hour)))
        got = [e.at for e in log.events(since=dt.date(2026, 12, 2), until=dt.date(2026, 12, 3))]
        assert got == [_at(2, 0), _at(3, 23)]
        assert len(log.events(until=dt.date.max)) == 4
        table = render(log.events(), "csv")
    assert table.splitlines()[0] == "at,action,outcome,key_id,role,label,target,client"
    assert "'=cmd" in table  # a spreadsheet shows it as text


def test_a_failed_write_is_logged_not_raised(tmp_path, caplog):
    store = ScoreStore(f"sqlite:///{tmp_path / 'scores.db'}")
    store._engine.dispose()
    (tmp_path / "scores.db").unlink()
    (tmp_path / "scores.db").mkdir()  # the database is now a directory: nothing opens it
    with caplog.at_level(logging.ERROR, logger="serving.store.audit"):
        AuditLog(store).record(AuditEvent("sign_in", "ok", "ab12cd34"))
    assert any("audit event not stored" in r.getMessage() for r in caplog.records)
