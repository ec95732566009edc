"""`churnlens alerts ...`: rules, evaluation, the inbox from the shell, delivery, backtest.

Commands parse options and call library functions; heavy imports stay inside them.
"""

from __future__ import annotations

import datetime as dt
import logging
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from serving.alerts.rules import AlertConfig
    from serving.store.score_store import ScoreStore

log = logging.getLogger(__name__)

app = typer.Typer(name="alerts", no_args_is_help=True,
                  help="Early warnings: alert rules over scoring runs, the alert inbox, "
                       "signed webhook delivery and a backtest of the rules.")

RULES_FILE = typer.Option("--rules", help="Alert rules file (default <home>/alerts.yaml, "
                          "else the shipped rules).", show_default=False)


class State(StrEnum):
    unresolved = "unresolved"
    open = "open"
    acknowledged = "acknowledged"
    snoozed = "snoozed"
    resolved = "resolved"


class Outcome(StrEnum):
    saved = "saved"
    churned = "churned"
    false_alarm = "false_alarm"
    no_action = "no_action"


def config_of(rules: Path | None) -> AlertConfig:
    from features.settings import get_settings
    from serving.alerts.rules import load

    return load(get_settings().home, rules)


def _store() -> ScoreStore:
    from features.settings import get_settings
    from serving.store.score_store import ScoreStore

    return ScoreStore(get_settings().score_store)


@app.command("rules")
def rules_command(
    write: Annotated[bool, typer.Option("--write", help="Write the shipped rules to "
                                        "<home>/alerts.yaml (refused if it exists).")] = False,
    rules: Annotated[Path | None, RULES_FILE] = None,
) -> None:
    """Check the alert rules file and print its rules (or write the shipped ones)."""
    from features.atomic import atomic_write_text
    from features.settings import get_settings
    from serving.alerts.rules import DEFAULT_FILE, default_text

    if write:
        target = get_settings().home / DEFAULT_FILE
        if target.exists():
            raise typer.BadParameter(f"{target} exists; edit it, or move it away first.")
        atomic_write_text(target, default_text())
        typer.echo(f"Wrote the shipped alert rules to {target}.")
        return
    config = config_of(rules)
    for rule in config.rules:
        tests = ", ".join(f"{name} {test.operator.replace('_', ' ')} {test.value}"
                          for name, test in rule.when.items())
        typer.echo(f"{rule.name:<22} {rule.severity:<8} {tests}  (owner {rule.owner}, "
                   f"cooldown {rule.cooldown_days} d, resolves after "
                   f"{rule.resolve_after_runs} quiet run(s))")
    for endpoint in config.endpoints:
        typer.echo(f"endpoint {endpoint.name}: {endpoint.url} ({endpoint.format})")


@app.command("facts")
def facts_command() -> None:
    """The facts alert rules can test, with their units."""
    from serving.alerts.facts import FACTS

    for fact in FACTS.values():
        unit = f" [{fact.unit}]" if fact.unit else ""
        values = f" ({' < '.join(fact.ordered)})" if fact.ordered else ""
        typer.echo(f"{fact.name:<28} {fact.meaning}{unit}{values}")


@app.command("secret")
def secret_command() -> None:
    """Print a new webhook signing secret (whsec_ and 32 random bytes in base64)."""
    import base64
    import secrets

    typer.echo("whsec_" + base64.b64encode(secrets.token_bytes(32)).decode())


@app.command("evaluate")
def evaluate_command(
    run: Annotated[int | None, typer.Option("--run", min=1, help="The scoring run "
                                            "(default: the newest).", show_default=False)
                   ] = None,
    rules: Annotated[Path | None, RULES_FILE] = None,
) -> None:
    """Evaluate the alert rules on a scoring run; `churnlens score` does this after every
    run. Evaluating a run again changes nothing."""
    config = config_of(rules)
    store = _store()
    try:
        found, summary = evaluate(store, config, run)
    finally:
        store.dispose()
    typer.echo(describe(found.id, summary))


def evaluate(store: ScoreStore, config: AlertConfig, run_id: int | None
             ) -> tuple[Any, dict[str, Any]]:
    from serving.alerts.book import AlertBook

    return AlertBook(store).evaluate_run(config, run_id)


def describe(run_id: int, summary: dict[str, Any]) -> str:
    if summary.get("repeat"):
        head = f"Alerts of run {run_id} were evaluated before; nothing changed."
    else:
        head = (f"Alerts of run {run_id}: {summary['opened']} opened, {summary['kept']} "
                f"still holding, {summary['resolved']} resolved; "
                f"{summary.get('deliveries', 0)} webhook deliveries queued.")
    return head + "".join(f"\n  - {why}" for why in summary.get("suppressed", ()))


@app.command("list")
def list_command(
    owner: Annotated[str | None, typer.Option(help="Only alerts for this owner.",
                                              show_default=False)] = None,
    state: Annotated[State, typer.Option(help="Only alerts in this state.")
                     ] = State.unresolved,
    rule: Annotated[str | None, typer.Option(help="Only this rule's alerts.",
                                             show_default=False)] = None,
    severity: Annotated[str | None, typer.Option(help="Only this severity.",
                                                 show_default=False)] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Rows to print.")] = 50,
) -> None:
    """The alerts, most severe and riskiest first (unresolved ones unless --state says
    otherwise)."""
    from serving.alerts.book import AlertBook, AlertFilter

    store = _store()
    try:
        found, total = AlertBook(store).list(
            AlertFilter(owner=owner, state=state.value, rule=rule, severity=severity),
            per_page=limit)
    finally:
        store.dispose()
    typer.echo(f"{total:,} alert(s)" + (f", the first {len(found)} shown" if total > len(found)
                                        else ""))
    for alert in found:
        risk = "" if alert.probability is None else f" {alert.probability:6.1%}"
        change = "" if alert.risk_change is None else f" ({alert.risk_change:+.0f} pts)"
        typer.echo(f"{alert.id:>6} {alert.state:<12} {alert.severity:<8} {alert.rule:<22} "
                   f"{(alert.account_name or '-'):<26.26} {alert.owner:<16.16}{risk}{change}"
                   f"  since {alert.first_as_of}")


def _act(alert_id: int, action: str, **options: Any) -> None:
    from serving.alerts.book import AlertBook
    from serving.store.audit import AuditEvent, AuditLog

    store = _store()
    try:
        alert = AlertBook(store).act(alert_id, action, **options)
        AuditLog(store).record(AuditEvent(f"alert_{action}", "ok", role="cli", label="cli",
                                          target=f"alert {alert_id}"))
    finally:
        store.dispose()
    extra = (f" until {alert.snoozed_until}" if alert.state == "snoozed"
             else f" ({alert.outcome})" if alert.outcome else "")
    typer.echo(f"Alert {alert.id} ({alert.rule}, {alert.account_name or 'data'}) is now "
               f"{alert.state}{extra}.")


@app.command("ack")
def ack_command(alert_id: Annotated[int, typer.Argument(help="The alert's id.")]) -> None:
    """Acknowledge an alert: someone is on it."""
    _act(alert_id, "ack")


@app.command("snooze")
def snooze_command(
    alert_id: Annotated[int, typer.Argument(help="The alert's id.")],
    until: Annotated[str, typer.Option(help="Day it comes back open, YYYY-MM-DD.")],
) -> None:
    """Snooze an alert until a day; it is open again after that day begins."""
    try:
        day = dt.date.fromisoformat(until)
    except ValueError:
        raise typer.BadParameter(f"{until!r} is not a date; use YYYY-MM-DD.") from None
    _act(alert_id, "snooze", until=day)


@app.command("resolve")
def resolve_command(
    alert_id: Annotated[int, typer.Argument(help="The alert's id.")],
    outcome: Annotated[Outcome, typer.Option(help="What came of it.")],
    note: Annotated[str, typer.Option(help="A note kept with the alert.")] = "",
) -> None:
    """Resolve an alert with its outcome: saved, churned, false_alarm or no_action."""
    _act(alert_id, "resolve", outcome=outcome.value, note=note)


@app.command("deliver")
def deliver_command(
    watch: Annotated[bool, typer.Option("--watch", help="Keep delivering (Ctrl-C stops) "
                                        "instead of sending what is due once.")] = False,
    rules: Annotated[Path | None, RULES_FILE] = None,
) -> None:
    """Send the webhook deliveries that are due, signed; `churnlens serve` also does this
    in the background. Failed ones are retried on the configured schedule. With --watch
    the rules file is re-read when it changes."""
    from features.settings import get_settings
    from serving.alerts.delivery import Tally, deliver_due, run_worker
    from serving.alerts.rules import WatchedRules

    config = config_of(rules)
    store = _store()
    try:
        if watch:
            try:
                done = run_worker(store, WatchedRules(get_settings().home, rules))
            except KeyboardInterrupt:
                done = Tally()
        else:
            done = Tally()
            while True:
                step = deliver_due(store, config)
                done += step
                if step.delivered + step.retried + step.dead == 0:
                    break
    finally:
        store.dispose()
    typer.echo(f"Webhooks: {done.delivered} delivered, {done.retried} to retry, "
               f"{done.dead} dead.")


@app.command("replay")
def replay_command(
    delivery: Annotated[list[int] | None, typer.Option("--id", help="A delivery id "
                                                       "(repeatable).", show_default=False)
                        ] = None,
    dead: Annotated[bool, typer.Option("--dead", help="Every dead delivery.")] = False,
    endpoint: Annotated[str | None, typer.Option(help="Only this endpoint's (and enable it "
                                                 "again if a 410 disabled it).",
                                                 show_default=False)] = None,
) -> None:
    """Queue deliveries again, each with its original webhook-id."""
    from serving.alerts.outbox import replay

    if not delivery and not dead and endpoint is None:
        raise typer.BadParameter("Name deliveries with --id, or pass --dead or --endpoint.")
    store = _store()
    try:
        with store._writing("Replaying webhook deliveries") as conn:
            count = replay(conn, delivery_ids=delivery or (), dead=dead, endpoint=endpoint,
                           at=dt.datetime.now(dt.UTC))
    finally:
        store.dispose()
    typer.echo(f"{count} delivery(ies) queued again; `churnlens alerts deliver` sends them.")


@app.command("backtest")
def backtest_command(
    rules: Annotated[Path | None, typer.Argument(help="Rules file to try (default "
                                                 "<home>/alerts.yaml, else the shipped "
                                                 "rules).", show_default=False)] = None,
    last: Annotated[int, typer.Option(min=2, max=1000, help="Replay the newest this many "
                                      "stored runs.")] = 24,
    data: Annotated[str | None, typer.Option("--data", help="Source-table directory or "
                                             "SQLAlchemy URL with the renewal outcomes "
                                             "(default <home>/sources).",
                                             show_default=False)] = None,
) -> None:
    """Replay the rules over the stored runs and print, per rule, how often the accounts
    alerted churned at their renewal against the base rate (lift), the lead time and the
    alerts per CSM per week. Live alerts are not touched. Runs scored by a model whose
    training saw their renewals overstate the lift: judge rules on later runs."""
    from features.point_in_time.spine import labels_at
    from features.settings import get_settings
    from features.sources.loading import load_sources
    from features.sources.usage_reach import UsageReach
    from serving.alerts.backtest import precision, replay, table_lines
    from serving.alerts.book import AlertBook

    settings = get_settings()
    config = config_of(rules)
    store = _store()
    try:
        runs = sorted(store.runs(limit=last), key=lambda r: (r.as_of, r.id))
        if len(runs) < 2:
            typer.echo("A backtest needs at least two stored scoring runs; score more "
                       "as_of dates first (`churnlens score --as-of YYYY-MM-DD`).")
            raise typer.Exit(1)
        book = AlertBook(store)
        views = [book.run_view(run) for run in runs]
    finally:
        store.dispose()
    sources = load_sources(str(data) if data is not None else str(settings.sources_dir),
                           usage_reach=UsageReach(1, None), outcomes_only=True)

    def outcomes(as_of: dt.date, accounts: Any) -> Any:
        return labels_at(sources.subscriptions, accounts, as_of,
                            sources.outcomes_known_through, settings.grace_days)

    fired = replay(config, views)
    table, base = precision(config, views, fired, outcomes)
    for line in table_lines(table, base, views):
        typer.echo(line)


def after_score(store: ScoreStore, run_id: int, *, webhooks: bool = True) -> str | None:
    """Evaluate the alerts of a run `churnlens score` just stored; a failure only warns.
    Without `webhooks` (runs of the past, scored to fill the history) nothing is sent."""
    from features.errors import ChurnlensError

    try:
        config = config_of(None)
        if not webhooks:
            config = config.model_copy(update={"endpoints": ()})
        _, summary = evaluate(store, config, run_id)
    except ChurnlensError as exc:
        log.warning("scoring run %d is stored, but evaluating its alerts failed: %s Run "
                    "`churnlens alerts evaluate --run %d` once that is fixed.", run_id,
                    exc.message, run_id)
        return None
    return describe(run_id, summary)


def register(parent: typer.Typer) -> None:
    parent.add_typer(app)
