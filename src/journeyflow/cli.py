"""The `journeyflow` command line: a click group; commands live in `commands/`.

User mistakes (JourneyflowError) are shown as messages with a non-zero exit,
never as tracebacks.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from typing import Any

import click
from sqlalchemy.exc import OperationalError

from journeyflow import commands, log
from journeyflow.exceptions import JourneyflowError
from journeyflow.plugin.manager import add_plugin_commands
from journeyflow.store import driver_reason


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except JourneyflowError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(1)
        except OperationalError as exc:
            # the database went away or stayed locked mid-command: what was
            # committed stays committed (batches are transactions); say so plainly
            click.echo(
                f"Error: database: {driver_reason(exc)} (committed batches are kept; "
                "run the command again to continue)",
                err=True,
            )
            ctx.exit(1)


@click.group(cls=_Group)
@click.version_option(package_name="journeyflow")
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    envvar="JOURNEYFLOW_LOG_LEVEL",
    default="warning",
    show_default=True,
)
def main(log_level: str) -> None:
    """journeyflow: customer journeys as executable, testable state machines."""
    log.configure(log_level)


def _add_commands(group: click.Group) -> None:
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        cmd = getattr(module, "command", None)
        if isinstance(cmd, click.Command):
            group.add_command(cmd)


_add_commands(main)
add_plugin_commands(main)  # journeyflow_commands: plugins add theirs


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
