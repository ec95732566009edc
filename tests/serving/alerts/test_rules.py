"""The alert rules file: parsed strictly, every error naming its line."""

from __future__ import annotations

import datetime as dt
import logging
import os

import pytest

from features.errors import ConfigError
from features.point_in_time.evidence import AccountEvidence, OpenTicket, SurveyAnswer, UsageWeek
from serving.alerts.facts import evidence_facts
from serving.alerts.rules import WatchedRules, default_text, load, parse

GOOD = """\
rules:
  - name: high
    title: High risk
    when: {band: {at_least: high}}
"""


def _error(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse(text, "alerts.yaml")
    return caught.value.message


def test_the_shipped_rules_parse_and_cover_the_documented_defaults():
    config = parse(default_text(), "shipped")
    assert [r.name for r in config.rules] == [
        "entered_high_band", "risk_jump", "renewal_at_risk", "active_users_drop",
        "aging_urgent_tickets", "detractor_nps", "champion_silent"]
    assert config.endpoints == ()


def test_without_a_file_the_shipped_rules_apply_and_a_named_file_must_exist(tmp_path):
    assert len(load(tmp_path).rules) == 7
    with pytest.raises(ConfigError, match="Cannot read the alert rules"):
        load(tmp_path, tmp_path / "missing.yaml")


ENDPOINT = """\
endpoints:
  - name: crm
    url: http://127.0.0.1:9/hook
    secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
"""


def _replace(path, text: str) -> None:
    """Edit the file as editors and `alerts rules --write` do: a new file renamed over it."""
    scratch = path.with_suffix(".new")
    scratch.write_text(text)
    os.replace(scratch, path)


def test_watched_rules_follow_the_file_and_keep_the_last_good_config(tmp_path, caplog):
    path = tmp_path / "alerts.yaml"
    path.write_text(GOOD)
    rules = WatchedRules(tmp_path)
    first = rules()
    assert first is not None and [r.name for r in first.rules] == ["high"]
    assert first.endpoints == ()
    assert rules() is first  # unchanged file: not read again

    _replace(path, GOOD + ENDPOINT)
    added = rules()
    assert added is not None and [e.name for e in added.endpoints] == ["crm"]

    caplog.clear()
    _replace(path, GOOD + "    colour: red\n")
    with caplog.at_level(logging.ERROR, logger="serving.alerts.rules"):
        assert rules() is added  # a bad edit keeps the config read before
        assert rules() is added
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, errors  # said once, not every round
    assert "config read before keeps working" in errors[0]
    assert "Extra inputs are not permitted" in errors[0]

    path.unlink()
    defaults = rules()
    assert defaults is not None and len(defaults.rules) == 7 and defaults.endpoints == ()


def test_watched_rules_unreadable_from_the_start_give_none_until_fixed(tmp_path, caplog):
    path = tmp_path / "alerts.yaml"
    path.write_text("rules: [")
    rules = WatchedRules(tmp_path)
    with caplog.at_level(logging.ERROR, logger="serving.alerts.rules"):
        assert rules() is None
    assert "no webhooks are sent until it is fixed" in caplog.text
    path.write_text(GOOD + ENDPOINT)  # in place, as some editors do
    fixed = rules()
    assert fixed is not None and len(fixed.endpoints) == 1


@pytest.mark.parametrize(("text", "line", "words"), [
    (GOOD.replace("band: {at_least: high}", "bnad: {at_least: high}"), 4,
     "'bnad' is not a fact"),
    (GOOD.replace("at_least: high", "at_least: severe"), 4, "band is one of low, medium"),
    (GOOD + "    severity: loud\n", 5, "'info', 'warning' or 'critical'"),
    (GOOD + "    colour: red\n", 5, "Extra inputs are not permitted"),
    (GOOD.replace("{at_least: high}", "{at_least: high, at_most: low}"), 4,
     "exactly one of"),
    (GOOD + "    cooldown_days: 0\n", 5, "greater than or equal to 1"),
    (GOOD + GOOD.removeprefix("rules:\n"), 1, "high is given more than once"),
])
def test_a_mistake_names_its_line(text, line, words):
    message = _error(text)
    assert f"alerts.yaml line {line}" in message
    assert words in message


def test_a_key_given_twice_is_refused_at_its_line():
    message = _error(GOOD + "    title: Again\n")
    assert message == "alerts.yaml line 5: 'title' is given twice; keep one."


def test_broken_yaml_names_its_line():
    assert "alerts.yaml line 3" in _error("rules:\n  - name: x\n  title: [\n")


def test_an_endpoint_needs_a_whsec_secret_and_known_rules():
    def endpoint(secret: str, rule: str) -> str:
        return GOOD + (f"endpoints:\n  - name: crm\n    url: http://127.0.0.1:9/hook\n"
                       f"    secret: {secret}\n    rules: [{rule}]\n")

    assert "line 8" in _error(endpoint("hunter2", "high"))
    assert "unknown rule(s) nope" in _error(endpoint("whsec_" + "A" * 32, "nope"))
    config = parse(endpoint("whsec_" + "A" * 32, "high"), "x")
    assert config.endpoints[0].wants("high", "warning", "ana")
    assert not config.endpoints[0].wants("other", "warning", "ana")


def test_evidence_facts_count_aging_urgent_tickets_and_month_on_month_users():
    as_of = dt.date(2025, 6, 1)
    weeks = tuple(UsageWeek(as_of - dt.timedelta(days=7 * (12 - i)), users, 10.0, 20.0)
                  for i, users in enumerate([9, 9, 9, 9, 10, 10, 10, 10, 5, 6, 6, 7]))
    tickets = tuple(OpenTicket(f"t{i}", as_of - dt.timedelta(days=age), age, priority,
                               None, False)
                    for i, (age, priority) in enumerate(
                        [(20, "urgent"), (15, "urgent"), (14, "urgent"), (30, "high")]))
    evidence = AccountEvidence("a", as_of, SurveyAnswer("nps", dt.date(2025, 5, 20), 4.0,
                                                        None), None, tickets, 4, weeks)
    facts = evidence_facts(evidence)
    assert facts["urgent_tickets_aging"] == 2  # open longer than 14 days: 20 and 15
    assert facts["active_users_change"] == -40.0  # mean 6 against mean 10
    assert facts["active_users_before"] == 10.0
    assert facts["nps"] == 4.0 and facts["days_since_nps"] == 12
    no_users = AccountEvidence("a", as_of, None, None, (), 0,
                               tuple(UsageWeek(w.week_start, None, 1.0, 1.0) for w in weeks))
    assert evidence_facts(no_users)["active_users_change"] is None
    assert "nps" not in evidence_facts(no_users)
