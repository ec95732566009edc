"""Run the feature families over a spine and hold the result to the catalog.

Each family runs only when its source table is present; a missing optional table drops
its family's columns (never NaN-filled) with a log line. The assembled frame has the
identity columns first, then exactly the catalog's features in catalog order and dtypes —
anything else is a bug and raises.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from features.point_in_time.catalog import Feature, features_for, key_name
from features.point_in_time.families import contract, lifecycle, sentiment, support, usage
from features.point_in_time.spine import IDENTITY_COLUMNS, Spine, term_values
from features.sources.contract import LOGIN, SESSION_MINUTES
from features.sources.loading import Sources

log = logging.getLogger(__name__)

MAX_KEY_FEATURES = 20


def resolve_key_features(sources: Sources, explicit: Sequence[str] | None = None
                         ) -> tuple[str, ...]:
    """The key product features: `explicit` (as feature-name keys), else the most used
    product event types in usage_events (up to MAX_KEY_FEATURES), in name order."""
    if explicit is not None:
        return explicit_key_features(explicit)
    events = sources.get("usage_events")
    if events is None:
        return ()
    return key_features_by_use(events["event_type"].value_counts())


def explicit_key_features(names: Sequence[str]) -> tuple[str, ...]:
    """Key features named by the user, as feature-name keys, each once."""
    return tuple(dict.fromkeys(key_name(k) for k in names))


def key_features_by_use(counts: pd.Series) -> tuple[str, ...]:
    """The key features of usage whose event types were counted so (type → rows)."""
    counts = counts[counts > 0].drop([LOGIN, SESSION_MINUTES], errors="ignore")
    by_key = counts.groupby([key_name(str(t)) for t in counts.index]).sum()
    by_key = by_key.drop("", errors="ignore").sort_values(ascending=False, kind="stable")
    if len(by_key) > MAX_KEY_FEATURES:
        log.info("using the %d most frequent of %d product event types as key features; "
                 "the rest count in product_events_*", MAX_KEY_FEATURES, len(by_key))
    return tuple(sorted(by_key.index[:MAX_KEY_FEATURES]))


def build_features(spine: Spine, sources: Sources, key_features: Sequence[str],
                   timings: dict[str, float] | None = None) -> pd.DataFrame:
    """Identity columns and every feature the sources allow, per spine row.

    `timings`, when given, receives the seconds each family took.
    """
    usage_events = sources.get("usage_events")
    tickets = sources.get("tickets")
    surveys = sources.get("surveys")
    notes = sources.get("csm_notes")
    parts: list[pd.DataFrame] = []

    def run(family: str, table: str | None, step: Callable[[], pd.DataFrame]
            ) -> pd.DataFrame | None:
        if table is not None and sources.get(table) is None:
            log.info("no %s table: the %s features from it are left out", table, family)
            return None
        began = time.perf_counter()
        part = step()
        parts.append(part)
        if timings is not None:
            timings[family] = timings.get(family, 0.0) + time.perf_counter() - began
        return part

    seats = term_values(spine, sources.subscriptions, "seats")
    run("usage", "usage_events",
        lambda: usage.compute(spine, _present(usage_events), seats, key_features))
    run("support", "tickets", lambda: support.compute(spine, _present(tickets)))
    run("sentiment", "surveys", lambda: sentiment.compute_surveys(spine, _present(surveys)))
    run("sentiment", "csm_notes", lambda: sentiment.compute_notes(spine, _present(notes)))
    terms = _present(run("contract", None, lambda: contract.compute(
        spine, sources.subscriptions, sources.accounts)))
    run("contract", None, lambda: lifecycle.compute(spine, terms, tickets, notes))

    declared = features_for(sources.tables.keys(), key_features)
    features = pd.concat(parts, axis=1)
    _check_against_catalog(list(features.columns), declared)
    typed = pd.DataFrame({f.name: _typed(features[f.name], f) for f in declared})
    identity = spine.frame[list(IDENTITY_COLUMNS)].reset_index(drop=True)
    return pd.concat([identity, typed], axis=1)


def _present(table: pd.DataFrame | None) -> pd.DataFrame:
    if table is None:  # run() only calls a family whose table exists
        raise RuntimeError("a feature family ran without its input")
    return table


def _check_against_catalog(built: list[str], declared: list[Feature]) -> None:
    names = [f.name for f in declared]
    missing, extra = set(names) - set(built), set(built) - set(names)
    if missing or extra or len(built) != len(set(built)):
        raise RuntimeError(f"built features disagree with the catalog: not built "
                           f"{sorted(missing)}, not declared {sorted(extra)}")


def _typed(values: pd.Series, spec: Feature) -> pd.Series:
    """The column in its catalog dtype."""
    if spec.dtype == "category":
        if spec.categories is not None:
            return pd.Series(pd.Categorical(values.astype("str").where(values.notna()),
                                            categories=list(spec.categories)))
        return values if isinstance(values.dtype, pd.CategoricalDtype) else \
            values.astype("category")
    if spec.dtype == "int32":
        counts = values.to_numpy(dtype=np.float64)
        if np.isnan(counts).any():
            raise RuntimeError(f"{spec.name} is declared int32 but has missing values")
        return pd.Series(np.rint(counts).astype(np.int32))
    return values.astype(np.float64)
