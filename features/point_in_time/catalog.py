"""The feature catalog: the single source of feature names, order, docs and reason texts.

The training set's columns, the model's feature list, `describe_catalog()` and the
sentences a CSM reads all come from the declarations in `catalog_entries`; a test fails
when a built column has no entry or an entry is never built.

Key product features. Usage event types other than `login` and `session_minutes` are
product features. Those chosen as *key features* when a training set is built (by
default every one found in usage_events; the choice is saved in the manifest and
travels with the model) each get the `<key>` entries: `<key>_uses_{7,28,90}d` and
`days_since_<key>_use`, where the key is the event type lower-cased with other
characters than a-z and 0-9 turned into `_`. All product events, key or not, count in
`product_events_*`.

Templates. A template is a Python format string over the row being explained:
`{value}` is the feature's own value and `{other_feature}` another feature of the same
row. An optional spec changes the rendering: `abs` (absolute value), `pct` (a share as a
percentage), `updown` ("rose", "fell" or "did not change" by the value's sign), `yesno`,
or any standard numeric spec such as `.1f`. Numbers read naturally: whole numbers with
thousands separators, others rounded to a sensible precision. A feature that can be
missing has a `missing` sentence, said instead of the template when the row's own value
is missing; any other missing or unknown value renders as "n/a". Rendering never raises.
"""

from __future__ import annotations

import logging
import math
import re
import string
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import pandas as pd

from features.point_in_time.catalog_entries import ENTRIES
from features.point_in_time.catalog_types import FAMILIES, KEY, Feature

log = logging.getLogger(__name__)

# Changes when features are added, removed or change meaning; recorded with every training
# set and model. 2026.1 added the CSM note events, the year of CSM sentiment and 90-day users;
# 2026.2 the busiest user, key-feature pace, ticket surge, seat change and budget notes.
CATALOG_VERSION = "2026.2"
MISSING = "n/a"

__all__ = ["CATALOG_VERSION", "Feature", "describe_catalog", "feature", "feature_names",
           "features_for", "key_features_in", "key_name", "render_reason"]


def key_name(event_type: str) -> str:
    """The identifier a product event type gets in feature names."""
    return re.sub(r"[^a-z0-9]+", "_", str(event_type).lower()).strip("_")


def features_for(tables: Collection[str], key_features: Sequence[str] = ()) -> list[Feature]:
    """The features built from these source tables, in catalog order.

    A feature whose source table is absent is not built at all (not filled with NaN).
    """
    out: list[Feature] = []
    for entry in ENTRIES:
        if entry.table is not None and entry.table not in tables:
            continue
        out += [entry.for_key(k) for k in key_features] if entry.per_key else [entry]
    names = [f.name for f in out]
    if len(set(names)) != len(names):
        clash = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"key features give duplicate feature names: {clash}")
    return out


def feature_names(tables: Collection[str], key_features: Sequence[str] = ()) -> list[str]:
    return [f.name for f in features_for(tables, key_features)]


def key_features_in(columns: Sequence[str]) -> list[str]:
    """The key product features a list of built feature columns was made with."""
    first = next(e for e in ENTRIES if e.per_key)
    pattern = _pattern(first)
    return [m["key"] for m in map(pattern.match, columns) if m]


def _pattern(entry: Feature) -> re.Pattern[str]:
    head, tail = entry.name.split(KEY)
    return re.compile(f"^{re.escape(head)}(?P<key>[a-z0-9_]+){re.escape(tail)}$")


_FIXED = {e.name: e for e in ENTRIES if not e.per_key}
_PER_KEY = [(_pattern(e), e) for e in ENTRIES if e.per_key]


def feature(name: str) -> Feature:
    """The declaration of a built feature, per-key names included."""
    if name in _FIXED:
        return _FIXED[name]
    for pattern, entry in _PER_KEY:
        match = pattern.match(name)
        if match:
            return entry.for_key(match["key"])
    raise KeyError(f"{name!r} is not in the feature catalog (version {CATALOG_VERSION})")


def render_reason(feature_name: str, row: Mapping[str, object],
                  reference: tuple[str, object] | None = None) -> str:
    """The feature's sentence for one row, e.g. "Active users fell 42% in the last 28
    days (31 → 18)"; its `missing` sentence when the row's value is missing ("The export
    feature has never been used"). With a `reference` (group, typical value) the sentence
    ends with what is normal: "; renewing mid-market accounts: 61 minutes". Never raises:
    other missing values read "n/a"."""
    value = row.get(feature_name)
    try:
        entry = feature(feature_name)
    except KeyError:
        log.warning("no catalog entry for %r; using a plain reason", feature_name)
        return f"{feature_name}: {format_value(value)}"
    template = entry.missing if _missing(value) and entry.missing else entry.template
    if entry.unit == "days" and isinstance(value, int | float) and not _missing(value):
        value = math.floor(value)  # "35 days ago", never "35.4": whole days have passed
    try:
        text = _Formatter().vformat(template, (), {**row, "value": value})
    except (ValueError, IndexError) as exc:  # a malformed template is a catalog bug
        log.warning("cannot render the template of %s: %s", feature_name, exc)
        return f"{feature_name}: {format_value(value)}"
    if reference is None:
        return text
    group, typical = reference
    return f"{text}; {reference_group(group)}: {reference_value(entry, typical)}"


SEGMENT_WORDS = {"smb": "SMB", "mid_market": "mid-market", "enterprise": "enterprise"}
_UNITS_SAID = ("days", "hours", "minutes")  # units a bare reference number needs


def reference_group(group: str) -> str:
    """Who a reference describes: "renewing mid-market accounts" ("*": all segments)."""
    if group == "*":
        return "renewing accounts"
    return f"renewing {SEGMENT_WORDS.get(group, group.replace('_', ' '))} accounts"


def reference_value(entry: Feature, typical: object) -> str:
    """A typical value as the feature's own sentence would show it, with its unit when a
    bare number would not say it; "typically none" when most renewing accounts have
    none (no note of that kind, no NPS answer)."""
    if _missing(typical):
        return "typically none"
    spec = next((s for _, name, s, _ in string.Formatter().parse(entry.template)
                 if name == "value" and s), "")
    if entry.unit == "days" and isinstance(typical, int | float):
        typical = math.floor(typical)
    shown = format_value(typical, spec)
    return f"{shown} {entry.unit}" if entry.unit in _UNITS_SAID and not spec else shown


def _missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def format_value(value: object, spec: str = "") -> str:
    """A value as a sentence shows it; see the module docstring for the specs."""
    if _missing(value):
        return MISSING
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if spec == "yesno":
        return "yes" if bool(value) else "no"
    if isinstance(value, str | bool):
        return str(value)
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    if spec == "updown":
        return "rose" if number > 0 else "fell" if number < 0 else "did not change"
    if spec == "abs":
        return _number(abs(number))
    if spec == "pct":
        return f"{_number(100 * number)}%"
    if spec:
        return format(number, spec)
    return _number(number)


def _number(x: float) -> str:
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    if abs(x) >= 100 or x == round(x):
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}".rstrip("0").rstrip(".")
    return f"{x:.2f}".rstrip("0").rstrip(".")


class _Formatter(string.Formatter):
    """Looks fields up in the row by their full name; unknown ones read "n/a"."""

    def get_field(self, field_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]
                  ) -> tuple[Any, str]:
        return kwargs.get(field_name), field_name

    def format_field(self, value: Any, format_spec: str) -> str:
        try:
            return format_value(value, format_spec)
        except (TypeError, ValueError):
            return MISSING


def describe_catalog() -> str:
    """The catalog as Markdown, one table per family, for the docs."""
    lines = [f"# churnlens feature catalog (version {CATALOG_VERSION})", ""]
    risk = {"higher": "higher", "lower": "lower", "category": "by level"}
    for family in FAMILIES:
        lines += [f"## {family}", "", "| feature | type | unit | risk when | source | "
                  "description |", "|---|---|---|---|---|---|"]
        for entry in (e for e in ENTRIES if e.family == family):
            lines.append(f"| {entry.name} | {entry.dtype} | {entry.unit} | "
                         f"{risk[entry.direction]} | {entry.table or 'subscriptions'} | "
                         f"{entry.description} |")
        lines.append("")
    return "\n".join(lines)
