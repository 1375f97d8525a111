"""`journeyflow graph FILE`: draw a journey as Mermaid, DOT, or an SVG/PNG picture.

Mermaid is the default because GitHub and GitLab draw it inline in Markdown;
DOT and the pictures (which need Graphviz's `dot`) are for documents and
slides the business reads.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from journeyflow.definition.loader import load_file
from journeyflow.render.graph import IMAGE_FORMATS, TEXT_FORMATS, render_graph


@click.command("graph")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "-f",
    "fmt",
    type=click.Choice([*TEXT_FORMATS, *IMAGE_FORMATS]),
    default="mermaid",
    show_default=True,
    help="mermaid or dot text; svg or png pictures need Graphviz's `dot` program.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file instead of standard output.",
)
def command(file: Path, fmt: str, output: Path | None) -> None:
    """Draw the journey in FILE: states by stage, triggers and guards on the arrows."""
    if fmt == "png" and output is None and sys.stdout.isatty():
        raise click.UsageError("a PNG is binary: give --output FILE.png (or pipe the output)")
    journey = load_file(file).journey
    drawing = render_graph(journey, fmt)
    data = drawing.encode("utf-8") if isinstance(drawing, str) else drawing
    if output is None:
        click.echo(data, nl=False)  # bytes go to the binary stream untouched
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(data)
    click.echo(f"wrote {output}", err=True)
