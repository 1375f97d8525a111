"""Vertical packs: a niche of one of journeyflow's ten built-in verticals, with
journey templates, default KPIs and segment thresholds.

The built-in plugin `journeyflow.verticals` registers the ten built-in ids
(`food-beverage`, ...); two plugins registering one id is an error, so a pack
has its own id, `<built-in vertical>/<niche>` (`food-beverage/cafe`), and
names its built-in vertical in `parent`. Its templates keep
`vertical: <built-in id>`, so they validate with or without this plugin
installed.

`segment_thresholds` holds settings per segmenter (`{"rfm": {...},
"engagement": {...}}`), applied by `journeyflow segment NAME --vertical ID`.
The plugin also adds `journeyflow templates` (list, or copy a pack's templates).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

import click

from journeyflow import JourneyflowError, Registry, Vertical, build_manager, hookimpl

__all__ = ["PACKS", "Pack", "template_path", "verticals"]


@dataclass(frozen=True)
class Pack:
    """One vertical pack; `templates` are file names in this package's `templates/`."""

    id: str
    parent: str  # the built-in vertical it specialises
    title: str
    description: str
    default_kpis: tuple[str, ...]
    segment_thresholds: Mapping[str, Any] = field(default_factory=dict)
    templates: tuple[str, ...] = ()


PACKS: tuple[Pack, ...] = (
    Pack(
        "fashion-beauty/bridal-salon",
        "fashion-beauty",
        "Fashion & Beauty — bridal salon",
        "A bridal salon's customer-path table: from the engagement to after the wedding. "
        "Brides buy once, so RFM looks back two years and dormancy is a year.",
        (
            "average_ticket",
            "cost_per_lead",
            "cost_per_sale",
            "social_engagement_rate",
            "follower_growth",
            "site_traffic_growth",
            "nps",
        ),
        {
            "rfm": {"window": "730d"},
            "engagement": {"opened": "90d", "clicked": "30d", "dormant": "365d"},
        },
        ("bridal-salon.yaml",),
    ),
    Pack(
        "food-beverage/cafe",
        "food-beverage",
        "Food & Beverage — café or restaurant",
        "The CRM playbook's lifecycle on a café's clock: guests come back within days, so "
        "win-back runs at 30 / 60 / 120 days and segments look at the last six months.",
        (
            "customers_per_day",
            "average_ticket",
            "repeat_purchase_rate",
            "promoted_product_sales_growth",
            "loyal_customers_growth",
            "nps",
        ),
        {
            "rfm": {"window": "180d"},
            "engagement": {"opened": "30d", "clicked": "14d", "dormant": "60d"},
        },
        ("cafe-lifecycle.yaml",),
    ),
    Pack(
        "business-services/marketing-agency",
        "business-services",
        "Business & Services — marketing agency",
        "The agency's client flow: pact, onboarding audits, kick-off, segmentation, "
        "situational check and monthly results per objective. A client's 'order' is a "
        "payment.",
        ("cost_per_lead", "cost_per_sale", "revenue_growth", "plan_actions_implemented", "nps"),
        {
            "rfm": {
                "window": "365d",
                "order_event": "payment_received",
                "amount_property": "amount",
            },
            "engagement": {
                "dormant": "90d",
                "events": "email_opened,email_clicked,pieces_approved,"
                "meeting_booked,payment_received",
            },
        },
        ("agency-client.yaml",),
    ),
)


def template_path(name: str) -> Path:
    """The installed path of a template shipped here (package data)."""
    resource = files(__name__) / "templates" / name
    with as_file(resource) as path:  # a real file for setuptools installs, editable or not
        if not path.is_file():
            raise JourneyflowError(f"template {name!r} is not installed with journeyflow-verticals")
        return Path(path)


def verticals() -> list[Vertical]:
    """The packs as Vertical records, templates as absolute paths."""
    return [
        Vertical(
            p.id,
            p.title,
            default_kpis=p.default_kpis,
            segment_thresholds=dict(p.segment_thresholds),
            journey_templates=tuple(str(template_path(t)) for t in p.templates),
            description=f"{p.description} (a pack of {p.parent})",
        )
        for p in PACKS
    ]


@hookimpl
def journeyflow_verticals() -> Iterable[Vertical]:
    return verticals()


@click.command("templates")
@click.argument("vertical", required=False)
@click.option(
    "--copy",
    "dest",
    type=click.Path(file_okay=False),
    help="copy the vertical's templates into this folder (never overwrites)",
)
def templates_command(vertical: str | None, dest: str | None) -> None:
    """List the journey templates verticals ship, or copy one vertical's."""
    registry = Registry.from_manager(build_manager())  # JOURNEYFLOW_DISABLE_PLUGINS applies
    shipped = {v.id: v for v in registry.verticals.values() if v.journey_templates}
    if vertical is not None and vertical not in shipped:
        raise click.UsageError(
            f"no vertical {vertical!r} ships templates; with templates: "
            f"{', '.join(sorted(shipped)) or 'none'}"
        )
    if dest is not None:
        if vertical is None:
            raise click.UsageError("--copy needs a VERTICAL")
        folder = Path(dest)
        folder.mkdir(parents=True, exist_ok=True)
        for source in map(Path, shipped[vertical].journey_templates):
            target = folder / source.name
            if target.exists():
                raise JourneyflowError(f"{target} exists; remove it or copy elsewhere")
            shutil.copyfile(source, target)
            click.echo(f"copied {source.name} -> {target}")
        return
    for vid in sorted(shipped) if vertical is None else [vertical]:
        v = shipped[vid]
        click.echo(f"{vid}  {v.title}")
        for path in v.journey_templates:
            click.echo(f"    {path}")


@hookimpl
def journeyflow_commands(cli: click.Group) -> None:
    cli.add_command(templates_command)
