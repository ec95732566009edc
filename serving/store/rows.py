"""Score rows in and out of the store: checked before writing, decoded after reading.

Everything a run could be refused for is checked here, before the transaction opens, so
the message can name the accounts at fault; the transaction then only has to be atomic.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import numbers
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import numpy as np

from features.point_in_time.signals import SIGNALS, signal_or_family
from serving.risk import Reason
from serving.store.models import (
    BANDS,
    RENEWAL_OUTCOMES,
    InvalidRunError,
    RenewalDue,
    StoredScore,
)

EXAMPLES = 3


class _Problems:
    """Problems of one kind across many rows: a count and a few examples each."""

    def __init__(self) -> None:
        self._found: dict[str, list[str]] = {}
        self._counts: dict[str, int] = {}

    def add(self, problem: str, example: str) -> None:
        self._counts[problem] = self._counts.get(problem, 0) + 1
        examples = self._found.setdefault(problem, [])
        if len(examples) < EXAMPLES:
            examples.append(example)

    def __bool__(self) -> bool:
        return bool(self._counts)

    def raise_if_any(self, total: int) -> None:
        if not self._counts:
            return
        lines = [f"{problem} ({count} of {total} scores; e.g. {', '.join(self._found[problem])})"
                 for problem, count in self._counts.items()]
        raise InvalidRunError("Cannot store the scoring run; nothing was written:\n  "
                              + "\n  ".join(lines))


def _finite(value: object) -> bool:
    """A real number (numpy's included), not a bool, not NaN or infinite."""
    if type(value) is float:  # the common case, checked fast: a run has ~100,000 numbers
        return math.isfinite(value)
    return (isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)
            and math.isfinite(float(value)))


def _is_date(value: object) -> bool:
    return isinstance(value, dt.date) and not isinstance(value, dt.datetime)


def check_run(model_version: str, as_of: dt.date) -> None:
    """Raise InvalidRunError unless the run header can be stored."""
    if not isinstance(model_version, str) or not model_version.strip():
        raise InvalidRunError(f"A scoring run needs the model version that scored it "
                              f"(got {model_version!r}); nothing was written.")
    if not _is_date(as_of):
        raise InvalidRunError(f"A scoring run's as_of must be a date, not "
                              f"{type(as_of).__name__} ({as_of!r}); pass e.g. "
                              f"datetime.date(2025, 1, 1). Nothing was written.")


def check_not_empty(accounts: int) -> None:
    """Raise InvalidRunError for a run of no accounts."""
    if not accounts:
        raise InvalidRunError("No scores to store: a scoring run needs at least one account. "
                              "Check that accounts are active at as_of; nothing was written.")


def score_rows(model_version: str, as_of: dt.date, scores: Sequence[StoredScore],
               seen: set[str] | None = None
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """One run's (or one piece of a run's) rows of `scores`, `score_reasons` and
    `score_evidence` (without run_id), or InvalidRunError naming the accounts at fault.
    `seen` holds the accounts of the run's earlier pieces, and gains these."""
    check_run(model_version, as_of)
    problems = _Problems()
    seen = set() if seen is None else seen
    rows: list[dict[str, Any]] = []
    details: list[dict[str, Any]] = []
    evidence: list[dict[str, Any]] = []
    for stored in scores:
        score, account = stored.score, stored.account
        key = score.account_id
        if not isinstance(key, str) or not key:
            problems.add("account_id must be non-empty text", repr(key))
        elif account.account_id != key:
            problems.add("score and account info name different accounts",
                         f"{key} vs {account.account_id}")
        if isinstance(key, str):
            if key in seen:
                problems.add("account scored twice in one run", key)
            seen.add(key)
        if score.as_of != as_of:
            problems.add(f"score as_of differs from the run's {as_of}", f"{key}: {score.as_of}")
        if score.model_version != model_version:
            problems.add(f"score model_version differs from the run's {model_version!r}",
                         f"{key}: {score.model_version!r}")
        if not _finite(score.probability) or not 0 <= score.probability <= 1:
            problems.add("probability must be a number from 0 to 1",
                         f"{key}: {score.probability!r}")
        if score.band not in BANDS:
            problems.add("band must be high, medium or low", f"{key}: {score.band!r}")
        if not _finite(account.arr) or account.arr < 0:
            problems.add("arr must be a finite number >= 0 (use 0 when unknown)",
                         f"{key}: {account.arr!r}")
        if not all(isinstance(v, str) for v in (account.name, account.segment,
                                                account.csm_owner)):
            problems.add("name, segment and csm_owner must be text (use '' when unknown)",
                         f"{key}: {account.name!r}, {account.segment!r}, "
                         f"{account.csm_owner!r}")
        if account.renewal_date is not None and not _is_date(account.renewal_date):
            problems.add("renewal_date must be a date or None",
                         f"{key}: {account.renewal_date!r}")
        if not all(_finite(r.contribution) for r in score.reasons):
            problems.add("reason contributions must be finite numbers", str(key))
        if not all(_finite(v) for v in score.contributions.values()):
            problems.add("feature contributions must be finite numbers", str(key))
        if not all(_finite(v) for v in score.families.values()):
            problems.add("family contributions must be finite numbers", str(key))
        if stored.evidence is not None and stored.evidence.account_id != key:
            problems.add("evidence belongs to another account",
                         f"{key} vs {stored.evidence.account_id}")
        if problems:
            continue  # the run is refused below; keep checking, stop building rows
        probability, arr = float(score.probability), float(account.arr)
        rows.append({
            "account_id": key, "name": account.name, "segment": account.segment,
            "csm_owner": account.csm_owner, "arr": arr, "renewal_date": account.renewal_date,
            "probability": probability, "band": score.band, "arr_at_risk": probability * arr,
            "top_reason": score.reasons[0].text if score.reasons else None,
            "drivers": ({f: float(c) for f, c in score.contributions.items()}
                        if score.contributions
                        else {r.signal or r.feature: float(r.contribution)
                              for r in score.reasons}),
        })
        details.append({
            "account_id": key, "reasons": [reason_json(r) for r in score.reasons],
            "families": {str(k): float(v) for k, v in score.families.items()},
        })
        if stored.evidence is not None:
            evidence.append({"account_id": key, "evidence": stored.evidence.to_json()})
    problems.raise_if_any(len(scores))
    return rows, details, evidence


def renewal_rows(renewals: Sequence[RenewalDue]) -> list[dict[str, Any]]:
    """Rows of `quarter_renewals` (without run_id), or InvalidRunError."""
    problems = _Problems()
    seen: set[str] = set()
    rows: list[dict[str, Any]] = []
    for due in renewals:
        account = due.account
        key = account.account_id
        if key in seen:
            problems.add("account has two renewals in the quarter", key)
        seen.add(key)
        if due.outcome not in RENEWAL_OUTCOMES:
            problems.add(f"renewal outcome must be one of {', '.join(RENEWAL_OUTCOMES)}",
                         f"{key}: {due.outcome!r}")
        if not _is_date(account.renewal_date):
            problems.add("a due renewal needs its renewal_date", f"{key}")
        if not _finite(account.arr) or account.arr < 0:
            problems.add("renewal arr must be a finite number >= 0", f"{key}: {account.arr!r}")
        rows.append({"account_id": key, "subscription_id": due.subscription_id,
                     "name": account.name, "segment": account.segment,
                     "csm_owner": account.csm_owner, "renewal_date": account.renewal_date,
                     "arr": float(account.arr), "outcome": due.outcome})
    problems.raise_if_any(len(renewals))
    return rows


def reason_json(reason: Reason) -> dict[str, Any]:
    return {"feature": reason.feature, "family": reason.family, "value": plain(reason.value),
            "contribution": float(reason.contribution), "text": reason.text,
            "signal": reason.signal, "context": reason.context,
            "reference": plain(reason.reference), "reference_group": reason.reference_group}


def plain(value: Any) -> Any:
    """A reason's value as JSON keeps it: numbers, text, booleans or None (NaN → None)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def reasons_from_json(stored: Sequence[Mapping[str, Any]]) -> tuple[Reason, ...]:
    # Runs stored before reasons had signals or references read back without them.
    return tuple(Reason(r["feature"], r["family"], r["value"], float(r["contribution"]),
                        r["text"], r.get("signal", ""), bool(r.get("context", False)),
                        r.get("reference"), r.get("reference_group", ""))
                 for r in stored)


def moved_most(now: Mapping[str, float], before: Mapping[str, float]
               ) -> tuple[str | None, float | None]:
    """The signal whose push changed most between two runs' drivers, and by how much.

    Drivers are per feature (or, for runs that stored only their reasons, per signal);
    they are summed per signal first, so "what moved" is one fact, not one of its
    correlated readings. A signal absent from a run counts as 0 there; (None, None) if
    nothing moved."""
    now_s, before_s = by_signal(now), by_signal(before)
    changes = {k: now_s.get(k, 0.0) - before_s.get(k, 0.0) for k in now_s.keys() | before_s}
    if not changes:
        return None, None
    signal = min(changes, key=lambda k: (-abs(changes[k]), k))
    if changes[signal] == 0:
        return None, None
    return signal, changes[signal]


def by_signal(drivers: Mapping[str, float]) -> dict[str, float]:
    """Contributions summed per signal; a name the catalog does not know stays itself."""
    out: dict[str, float] = {}
    for name, value in drivers.items():
        key = signal_or_self(name)
        out[key] = out.get(key, 0.0) + value
    return out


@functools.lru_cache(maxsize=4096)
def signal_or_self(name: str) -> str:
    """A stored driver's signal: drivers are features, or signals in runs that stored
    only their reasons; a name the catalog does not know stays itself."""
    return name if name in SIGNALS else signal_or_family(name, name)
