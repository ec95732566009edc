"""`churnlens` commands of the features stage: contract, validate (simulate, build later).

Commands only parse options and call library functions; heavy imports stay inside them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

log = logging.getLogger(__name__)

DataOption = Annotated[
    Path | None,
    typer.Option("--data", help="Source-table directory or SQLAlchemy URL "
                 "(default <home>/sources).", show_default=False),
]
DataEndOption = Annotated[
    str | None,
    typer.Option("--data-end", help="Last day the data covers, YYYY-MM-DD (default: "
                 "dataset.json's data_end, else the latest record's day).", show_default=False),
]


def validate(
    data_arg: Annotated[
        str | None,
        typer.Argument(metavar="[DATA]", help="Source directory or SQLAlchemy URL; same as --data.",
                       show_default=False),
    ] = None,
    data: DataOption = None,
    data_end: DataEndOption = None,
) -> None:
    """Check source tables against the data contract and summarise the customer base.

    Exits non-zero with every problem found (table, column, example rows and the fix)
    when the data breaks the contract.
    """
    from features.loading import load_sources
    from features.settings import get_settings
    from features.summary import render_summary, summarize

    location = resolve_data(data_arg, data)
    sources = load_sources(location, data_end)
    typer.echo(f"{location}: valid against the source-data contract (v1).\n")
    typer.echo(render_summary(summarize(sources, get_settings().grace_days)))


def contract() -> None:
    """Print the source-data contract: tables, columns, types and rules, as Markdown."""
    from features.contract import describe_contract

    typer.echo(describe_contract())


def resolve_data(positional: str | None, option: Path | str | None) -> str:
    """The source location from a positional DATA, --data, or the workspace default."""
    from features.errors import ConfigError
    from features.settings import get_settings

    if positional is not None and option is not None and str(positional) != str(option):
        raise ConfigError(f"Give the data location once: DATA is {positional} but --data is "
                          f"{option}.")
    chosen = positional if positional is not None else option
    return str(chosen) if chosen is not None else str(get_settings().sources_dir)


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the `churnlens` app."""
    app.command()(validate)
    app.command()(contract)
