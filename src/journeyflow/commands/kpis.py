"""`journeyflow kpis`: the KPI plugins' indicators over a window of stored events.

The report itself is `reports.kpis`; this module reads the options and prints.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import click

from journeyflow.clock import as_utc
from journeyflow.commands._common import DATETIME_FORMATS, database_option, plugin_registry
from journeyflow.reports.kpis import format_kpi_report, kpi_report
from journeyflow.store import open_store

DEFAULT_WINDOW = timedelta(days=30)


@click.command("kpis")
@database_option
@click.option("--journey", "journey", help="the KPIs this journey names, and its funnel per stage")
@click.option(
    "--since",
    type=click.DateTime(formats=DATETIME_FORMATS),
    help="window start (UTC; default: 30 days before --until)",
)
@click.option(
    "--until",
    type=click.DateTime(formats=DATETIME_FORMATS),
    help="window end, excluded (UTC; default: now)",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def command(
    database: str, journey: str | None, since: datetime | None, until: datetime | None, fmt: str
) -> None:
    """Print KPIs over [--since, --until); growth KPIs compare with the window before.

    Without --journey: every KPI the installed plugins register. With it: the
    KPIs the journey (and its states) name, then entries, conversion and time
    per funnel stage from its history.
    """
    end = as_utc(until) if until is not None else datetime.now(timezone.utc)
    start = as_utc(since) if since is not None else end - DEFAULT_WINDOW
    if start >= end:
        raise click.UsageError(
            f"--since ({start.isoformat()}) must be before --until ({end.isoformat()})"
        )
    registry = plugin_registry()
    store = open_store(database)
    try:
        report = kpi_report(store, registry.kpis, start, end, journey)
    finally:
        store.close()
    if fmt == "json":
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(format_kpi_report(report))
