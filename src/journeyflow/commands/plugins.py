"""`journeyflow plugins`: which plugins are installed and what each registers."""

from __future__ import annotations

import json

import click

from journeyflow.plugin.manager import blocked_names, build_manager, describe_plugins
from journeyflow.plugin.registry import Registry


@click.command("plugins")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def command(fmt: str) -> None:
    """List plugins: name, distribution and version, hooks, what each registers.

    Built-in plugins are listed too (distribution journeyflow). Disable any
    with JOURNEYFLOW_DISABLE_PLUGINS=name,name.
    """
    pm = build_manager()
    registry = Registry.from_manager(pm)
    plugins = describe_plugins(pm, registry)
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "plugins": plugins,
                    "disabled": list(blocked_names(pm)),
                    "problems": registry.problems,
                },
                indent=2,
            )
        )
        return
    for p in plugins:
        origin = f"{p['distribution']} {p['version']}" if p["distribution"] else "not packaged"
        click.echo(f"{p['name']}  ({origin}{', built-in' if p['builtin'] else ''})")
        click.echo(f"    hooks: {', '.join(p['hooks']) or 'none'}")
        for kind, names in p["registers"].items():
            click.echo(f"    {kind}: {', '.join(names)}")
    for name in blocked_names(pm):
        click.echo(f"{name}  (disabled)")
    for problem in registry.problems:
        click.echo(f"problem: {problem}", err=True)
