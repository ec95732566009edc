"""A scoring run's rows, checked and set aside on disk piece by piece until they are stored.

A run scored bucket by bucket arrives in pieces. Holding every account's score,
contributions and evidence until the last bucket is done would make memory grow with the
book, and writing each piece as it comes would hold the store's write lock (on SQLite,
the whole file's) for as long as the scoring takes. So each piece is checked and turned
into store rows as it arrives (`rows.score_rows`, with the accounts of the earlier
pieces, so an account in two pieces is refused), and pickled to a temporary file; the
store then writes the run in one short transaction, reading the pieces back one at a
time (`ScoreStore.write_spooled`). The file has no name on POSIX systems (a
`tempfile.TemporaryFile`), so even a killed run leaves nothing behind; elsewhere it is
deleted when the spool closes.
"""

from __future__ import annotations

import datetime as dt
import pickle
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import IO, Any

from features.atomic import is_disk_full
from serving.store.models import ScoreStoreError, StoredScore
from serving.store.monitoring import ShadowScore
from serving.store.rows import check_run, score_rows


@dataclass(frozen=True)
class SpooledPiece:
    """One piece's rows of `scores`, `score_reasons` and `score_evidence` (without
    run_id), with its accounts' alert facts and shadow scores."""

    rows: list[dict[str, Any]]
    details: list[dict[str, Any]]
    evidence: list[dict[str, Any]]
    facts: dict[str, dict[str, Any]]
    shadow: list[ShadowScore]


class RunSpool:
    """The checked rows of one run (model version, as_of) on their way to the store."""

    def __init__(self, model_version: str, as_of: dt.date) -> None:
        check_run(model_version, as_of)
        self.model_version = model_version
        self.as_of = as_of
        self._seen: set[str] = set()
        self._file: IO[bytes] = tempfile.TemporaryFile(  # noqa: SIM115 (closed by close)
            prefix="churnlens-run-")
        self._pieces = 0

    @property
    def accounts(self) -> int:
        """How many accounts the pieces so far hold."""
        return len(self._seen)

    def add(self, scores: Sequence[StoredScore], *,
            facts: Mapping[str, dict[str, Any]] | None = None,
            shadow: Sequence[ShadowScore] = ()) -> None:
        """Check a piece of the run and set it aside; InvalidRunError names the accounts
        at fault (an account already in an earlier piece among them)."""
        rows, details, evidence = score_rows(self.model_version, self.as_of, scores,
                                             self._seen)
        piece = SpooledPiece(rows, details, evidence, dict(facts or {}), list(shadow))
        try:
            pickle.dump(piece, self._file, protocol=pickle.HIGHEST_PROTOCOL)
        except OSError as exc:
            if not is_disk_full(exc):
                raise
            raise ScoreStoreError(
                f"Setting the scoring run aside in {tempfile.gettempdir()} failed: the disk "
                f"is full ({exc}); nothing was stored. Free some space there, or point "
                f"TMPDIR at a disk with room, then run it again.") from exc
        self._pieces += 1

    def __iter__(self) -> Iterator[SpooledPiece]:
        """The pieces in the order they were added, read back one at a time."""
        self._file.flush()
        self._file.seek(0)
        for _ in range(self._pieces):
            yield pickle.load(self._file)  # our own file, written just above

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> RunSpool:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()
