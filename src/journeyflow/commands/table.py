"""`journeyflow table FILE`: the "customer path" table of a journey.

The business reads and signs off the journey as this table (stage, what we
do, owner, KPIs, resources, ways out); generating it from the journey file
keeps the document and the automation the same thing.
"""

from __future__ import annotations

from pathlib import Path

import click

from journeyflow.definition.loader import load_file
from journeyflow.render.table import FORMATS, render_table


@click.command("table")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "-f",
    "fmt",
    type=click.Choice(FORMATS),
    default="md",
    show_default=True,
    help="md (Markdown), csv (spreadsheets) or html (a standalone page).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file instead of standard output.",
)
def command(file: Path, fmt: str, output: Path | None) -> None:
    """Print the customer-path table of the journey in FILE: one row per state."""
    text = render_table(load_file(file).journey, fmt)
    if output is None:
        click.echo(text, nl=False)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    # bytes, so the CSV's CRLF row ends are written as they are on every platform
    output.write_bytes(text.encode("utf-8"))
    click.echo(f"wrote {output}", err=True)
