"""The rules engine: when an alert fires, holds, quiets and resolves."""

from __future__ import annotations

from engine_support import HIGH, account, month, rules, run

from serving.alerts.backtest import replay
from serving.alerts.evaluate import STALE_RULE, evaluate


def _high_only(fired):
    return [a for a in fired if a.rule == "high"]


def test_an_alert_fires_when_the_rule_starts_to_hold_and_not_again_while_it_holds():
    runs = [run(1, month(1), account("a", 0.10)), run(2, month(2), account("a", 0.40)),
            run(3, month(3), account("a", 0.45)), run(4, month(4), account("a", 0.50))]
    fired = _high_only(replay(HIGH, runs))
    assert [(a.account_id, a.first_as_of) for a in fired] == [("a", month(2))]
    assert fired[0].resolved_as_of is None


def test_hysteresis_keeps_one_alert_through_a_flapping_condition():
    # high, low, high, low, low: with resolve_after_runs 2 the first dip does not resolve
    scores = [0.40, 0.10, 0.40, 0.10, 0.10]
    runs = [run(i, month(i), account("a", p)) for i, p in enumerate(scores, 1)]
    fired = _high_only(replay(HIGH, runs))
    assert len(fired) == 1
    assert fired[0].first_as_of == month(1)
    assert fired[0].resolved_as_of == month(5)


def test_a_resolved_alert_does_not_fire_again_within_its_cooldown():
    quick = rules("""
  - name: high
    title: High
    when: {band: {at_least: high}}
    cooldown_days: 60
    resolve_after_runs: 1
""")
    # Jan high (fires), Feb low (resolves), Mar high (59 days after Jan 1: held back),
    # Apr low, May high (fires again)
    scores = [0.40, 0.10, 0.40, 0.10, 0.40]
    runs = [run(i, month(i), account("a", p)) for i, p in enumerate(scores, 1)]
    fired = replay(quick, runs)
    assert [a.first_as_of for a in fired] == [month(1), month(5)]
    assert fired[0].resolved_as_of == month(2)


def test_a_new_model_rescoring_everyone_raises_no_score_alert_by_itself():
    before = run(1, month(1), account("a", 0.10, nps=9), account("b", 0.10, nps=9))
    after = run(2, month(2), account("a", 0.40, nps=9), account("b", 0.40, nps=3),
                version="8")
    later = run(3, month(3), account("a", 0.45, nps=9), account("b", 0.45, nps=3),
                version="8")
    changes = evaluate(HIGH, after, before, [], {})
    assert [(o.rule.name, o.account.account_id) for o in changes.opened] == [
        ("detractor", "b")]  # the detractor answer is news; the new model's scores are not
    assert any("rules on the score opened no alert" in s for s in changes.suppressed)
    # the next run of the same model sees "high" holding already: still no alert
    assert [a.rule for a in replay(HIGH, [before, after, later])] == ["detractor"]


def test_a_stale_source_raises_one_data_alert_instead_of_account_alerts():
    fresh = run(1, month(1), *(account(f"a{i}", 0.10) for i in range(50)))
    stale = run(2, month(2), *(account(f"a{i}", 0.40) for i in range(50)),
                last_records={"usage_events": "2024-12-20"})
    recovered = run(3, month(3), *(account(f"a{i}", 0.10) for i in range(50)))
    changes = evaluate(HIGH, stale, fresh, [], {})
    assert [(o.rule, o.owner) for o in changes.opened] == [(None, "admin")]
    assert "usage_events" in changes.opened[0].title
    fired = replay(HIGH, [fresh, stale, recovered])
    assert [a.rule for a in fired] == [STALE_RULE]
    assert fired[0].resolved_as_of == month(3)


def test_an_account_no_longer_scored_lets_its_alert_resolve():
    runs = [run(1, month(1), account("a", 0.40)), run(2, month(2)), run(3, month(3))]
    fired = _high_only(replay(HIGH, runs))
    assert fired[0].resolved_as_of == month(3)


def test_a_missing_fact_never_holds():
    runs = [run(1, month(1), account("a", 0.10)), run(2, month(2), account("a", 0.10))]
    assert [a for a in replay(HIGH, runs) if a.rule == "detractor"] == []


def test_the_signals_that_moved_come_with_the_alert():
    changes = evaluate(HIGH, run(2, month(2), account("a", 0.40)),
                       run(1, month(1), account("a", 0.10)), [], {})
    high = next(o for o in changes.opened if o.rule.name == "high")
    assert high.risk_change == 30.0
    assert high.signals and high.signals[0]["change"] > 0
