"""The `churnlens` command: parses options and calls library functions, nothing more.

This module is the composition root: it is the one place allowed to gather the commands
of every stage (`features.cli`, later `training.cli`). Heavy libraries are imported inside
commands so that `churnlens --help` answers at once.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from features import cli as features_cli
from features.atomic import disk_full_error, is_disk_full
from features.errors import ChurnlensError
from serving import commands as serving_commands
from training import cli as training_cli

app = typer.Typer(
    name="churnlens",
    help="Renewal-risk prediction for B2B SaaS customer success: simulate or load customer "
    "history, validate it, build point-in-time training sets, train, score and serve.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _global_options(
    home: Annotated[
        Path | None,
        typer.Option("--home",
                     help="Workspace directory (default ./workspace or $CHURNLENS_HOME)."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug detail.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Log warnings only.")] = False,
) -> None:
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr, force=True)
    if home is not None:
        from features.settings import settings_with, use_settings

        use_settings(settings_with(home=home))


features_cli.register(app)
training_cli.register(app)
serving_commands.register(app)


def main() -> None:
    """Entry point: run the app and turn churnlens errors into a message and an exit code.

    A full disk can stop any write, also those of libraries (MLflow, the simulator's
    exports) that no churnlens writer wraps; it is one line saying so, not a traceback.
    """
    try:
        app()
    except ChurnlensError as exc:
        typer.secho(f"error: {exc.message}", err=True, fg=typer.colors.RED)
        raise SystemExit(exc.exit_code) from None
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        where = Path(exc.filename).parent if exc.filename else Path.cwd()
        error = disk_full_error(where, "the command's output", untouched=False)
        typer.secho(f"error: {error.message} ({exc.strerror or exc})", err=True,
                    fg=typer.colors.RED)
        raise SystemExit(error.exit_code) from None
