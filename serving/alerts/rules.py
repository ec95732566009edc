"""Alert rules, endpoints and delivery settings: one YAML file in the workspace.

The file (`<home>/alerts.yaml`; `churnlens alerts rules --write` puts the shipped defaults
there to edit) is parsed strictly: an unknown key, a fact the rules do not know, a band
that does not exist or a key given twice is an error that names its line. Without a file
the shipped defaults apply, with no endpoints.

A rule holds for an account when all its conditions do (`when`: fact -> comparison). It
fires when it starts to hold, at most once per `cooldown_days` for an account, and its
alert resolves by itself after the rule has not held for `resolve_after_runs` runs in a
row (hysteresis: a flapping condition keeps one alert open instead of raising many).
"""

from __future__ import annotations

import functools
import importlib.resources
import logging
import operator
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from features.atomic import file_stamp
from features.errors import ChurnlensError, ConfigError
from serving.alerts.facts import FACTS
from serving.alerts.yaml_lines import line_of, load_with_lines

log = logging.getLogger(__name__)

SEVERITIES = ("info", "warning", "critical")
CSM = "csm"  # a rule's default owner: the account's CSM
COMPARISONS = ("at_least", "at_most", "above", "below", "equals")
DEFAULT_FILE = "alerts.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Comparison(_Strict):
    """One fact's test: e.g. `{at_least: 2}`; exactly one comparison per fact."""

    at_least: float | str | None = None
    at_most: float | str | None = None
    above: float | str | None = None
    below: float | str | None = None
    equals: float | str | None = None

    @model_validator(mode="after")
    def _one(self) -> Comparison:
        given = [c for c in COMPARISONS if getattr(self, c) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(COMPARISONS)} (got "
                             f"{', '.join(given) or 'none'})")
        return self

    @property
    def operator(self) -> str:
        return next(c for c in COMPARISONS if getattr(self, c) is not None)

    @property
    def value(self) -> float | str:
        value = getattr(self, self.operator)
        assert value is not None
        return value


class Rule(_Strict):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
    title: Annotated[str, Field(min_length=1, max_length=120)]
    when: dict[str, Comparison]
    severity: Literal["info", "warning", "critical"] = "warning"
    owner: Annotated[str, Field(min_length=1)] = CSM
    cooldown_days: Annotated[int, Field(ge=1, le=3650)] = 30
    resolve_after_runs: Annotated[int, Field(ge=1, le=52)] = 2

    @field_validator("when")
    @classmethod
    def _known_facts(cls, when: dict[str, Comparison]) -> dict[str, Comparison]:
        if not when:
            raise ValueError("a rule needs at least one condition")
        for name, test in when.items():
            fact = FACTS.get(name)
            if fact is None:
                raise ValueError(f"{name!r} is not a fact rules can test; known facts: "
                                 f"{', '.join(FACTS)}")
            if fact.ordered and test.value not in fact.ordered:
                raise ValueError(f"{name} is one of {', '.join(fact.ordered)}, not "
                                 f"{test.value!r}")
            if not fact.ordered and isinstance(test.value, str):
                raise ValueError(f"{name} is a number ({fact.unit}), not {test.value!r}")
        return when

    @property
    def score_based(self) -> bool:
        """Whether a new model alone can make this rule hold (it tests the score)."""
        return any(FACTS[name].score_based for name in self.when)

    def holds(self, facts: dict[str, Any]) -> bool:
        """Whether every condition holds on these facts (a missing fact never holds)."""
        for name, compare, want, ordered in self._tests:
            value = facts.get(name)
            if value is None:
                return False
            have = ordered.index(str(value)) if ordered else float(value)
            if not compare(have, want):
                return False
        return True

    @functools.cached_property
    def _tests(self) -> tuple[tuple[str, Callable[[Any, Any], bool], float, tuple[str, ...]],
                              ...]:
        """The conditions worked out once: a rule is tested on every account of a run."""
        out = []
        for name, test in self.when.items():
            ordered = FACTS[name].ordered
            want = ordered.index(str(test.value)) if ordered else float(test.value)
            out.append((name, _OPERATORS[test.operator], want, tuple(ordered)))
        return tuple(out)

    def owner_of(self, csm_owner: str) -> str:
        return csm_owner if self.owner == CSM else self.owner


class Endpoint(_Strict):
    """A webhook receiver, with its own signing secret and what it subscribes to."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$")]
    url: Annotated[str, Field(pattern=r"^https?://\S+$")]
    secret: Annotated[str, Field(pattern=r"^whsec_[A-Za-z0-9+/=]{16,}$")]
    format: Literal["standard", "slack"] = "standard"
    # "daily": one message per owner and UTC day listing its new alerts, sent after the
    # day ends, instead of one message per alert
    digest: Literal["none", "daily"] = "none"
    rules: tuple[str, ...] = ()  # empty: every rule
    severities: tuple[Literal["info", "warning", "critical"], ...] = ()
    owners: tuple[str, ...] = ()

    def wants(self, rule: str, severity: str, owner: str) -> bool:
        return ((not self.rules or rule in self.rules)
                and (not self.severities or severity in self.severities)
                and (not self.owners or owner in self.owners))


class Delivery(_Strict):
    # Seconds to wait before each retry (the Standard Webhooks schedule, shortened).
    retry_schedule: tuple[Annotated[float, Field(ge=0)], ...] = (5, 300, 1800, 7200, 18000)
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 10.0
    jitter: Annotated[float, Field(ge=0, le=1)] = 0.2  # +-share of each wait, at random


class AlertConfig(_Strict):
    version: Literal[1] = 1
    # A source table whose last record is older than this before a run's as_of is stale.
    stale_after_days: dict[str, Annotated[int, Field(ge=1)]] = Field(default_factory=lambda: {
        "usage_events": 7, "tickets": 30, "surveys": 60, "csm_notes": 60})
    data_owner: str = "admin"  # who gets the data alerts
    rules: tuple[Rule, ...]
    endpoints: tuple[Endpoint, ...] = ()
    delivery: Delivery = Field(default_factory=Delivery)

    @model_validator(mode="after")
    def _names(self) -> AlertConfig:
        for kind, names in (("rule", [r.name for r in self.rules]),
                            ("endpoint", [e.name for e in self.endpoints])):
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise ValueError(f"{kind} names must differ: {', '.join(twice)} "
                                 f"is given more than once")
        known = {r.name for r in self.rules}
        for endpoint in self.endpoints:
            unknown = [r for r in endpoint.rules if r not in known]
            if unknown:
                raise ValueError(f"endpoint {endpoint.name} subscribes to unknown rule(s) "
                                 f"{', '.join(unknown)}")
        return self

    def rule(self, name: str) -> Rule | None:
        return next((r for r in self.rules if r.name == name), None)


def default_text() -> str:
    """The shipped rules file, with its comments."""
    return importlib.resources.files("serving.alerts").joinpath("default_alerts.yaml") \
        .read_text(encoding="utf-8")


def parse(text: str, source: str) -> AlertConfig:
    """The config in `text`; ConfigError naming the line of the first problems."""
    data, lines = load_with_lines(text, source)
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping with a `rules:` list, got "
                          f"{type(data).__name__}.")
    try:
        return AlertConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors()[:5]:
            path = tuple(p for p in error["loc"] if not _is_pydantic_branch(p))
            line = line_of(lines, path)
            where = f"line {line}" if line is not None else "top level"
            field = ".".join(str(p) for p in path) or "the file"
            problems.append(f"{source} {where} ({field}): {error['msg']}")
        raise ConfigError("Invalid alert rules:\n  " + "\n  ".join(problems)
                          + "\nFix the file, or start again from `churnlens alerts rules "
                            "--write`.") from None


def load(home: Path, file: Path | None = None) -> AlertConfig:
    """The workspace's alert config: `file`, else <home>/alerts.yaml, else the defaults."""
    path = file if file is not None else home / DEFAULT_FILE
    if file is None and not path.exists():
        return parse(default_text(), "the shipped alert rules")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"Cannot read the alert rules at {path}: {exc.strerror or exc}."
                          ) from None
    return parse(text, str(path))


class WatchedRules:
    """The alert config as its file says now, for a long-running worker.

    Each call checks the file's stamp and re-reads it when it changed, so endpoints added
    to or removed from alerts.yaml reach `churnlens serve` and `alerts deliver --watch`
    at their next round, without a restart (and a new endpoint's deliveries are not
    declared dead by a worker that never heard of it). A file edited into something
    unreadable is logged once and the config read before keeps working; deleting it
    brings back the shipped defaults, as at start. The stamp is taken before the file is
    read, so an edit landing during the read shows as a change at the next call.
    """

    def __init__(self, home: Path, file: Path | None = None) -> None:
        self._home, self._file = home, file
        self._path = file if file is not None else home / DEFAULT_FILE
        self._stamp: tuple[int, int, int] | None = None
        self._config: AlertConfig | None = None
        self._read = False

    def __call__(self) -> AlertConfig | None:
        """The current config; None while the file has never been readable."""
        stamp = file_stamp(self._path)
        if self._read and stamp == self._stamp:
            return self._config
        first, self._read, self._stamp = not self._read, True, stamp
        try:
            self._config = load(self._home, self._file)
        except ChurnlensError as exc:
            kept = ("the config read before keeps working" if self._config is not None
                    else "no webhooks are sent until it is fixed")
            log.error("the alert rules at %s cannot be read, so %s: %s", self._path, kept, exc)
            return self._config
        if not first:
            log.info("alert rules re-read from %s: %d endpoint(s)", self._path,
                     len(self._config.endpoints))
        return self._config


def _is_pydantic_branch(part: object) -> bool:
    # Union members appear in error locations as e.g. 'float' or 'str'; not file keys.
    return part in ("float", "str", "int", "function-after[_one(), Comparison]")


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "at_least": operator.ge, "at_most": operator.le, "above": operator.gt,
    "below": operator.lt, "equals": operator.eq}


