"""`journeyflow schema`: write (or check) the JSON Schema of a journey file.

The schema is generated from the DSL models and committed, so editors and CI
can validate journeys without journeyflow installed; `--check` lets CI fail
when someone changed `dsl.py` and forgot to regenerate.
"""

from __future__ import annotations

from pathlib import Path

import click

from journeyflow.definition.schema import (
    DEFAULT_SCHEMA_PATH,
    render_schema,
    schema_differs,
    write_schema,
)


@click.command("schema")
@click.option(
    "--output",
    "-o",
    default=str(DEFAULT_SCHEMA_PATH),
    show_default=True,
    help="Where to write the schema (relative to the current folder); `-` prints it.",
)
@click.option(
    "--check",
    is_flag=True,
    help="Write nothing; exit 1 if the file at --output is not the current schema.",
)
def command(output: str, check: bool) -> None:
    """Generate the JSON Schema (draft 2020-12) of journey files."""
    if output == "-":
        if check:
            raise click.UsageError("--check compares a file; give --output a path, not `-`")
        click.echo(render_schema(), nl=False)
        return
    path = Path(output)
    if check:
        if schema_differs(path):
            click.echo(
                f"{path} is missing or out of date: run `journeyflow schema` to regenerate it",
                err=True,
            )
            raise SystemExit(1)
        click.echo(f"{path} is up to date")
        return
    write_schema(path)
    click.echo(f"wrote {path}")
