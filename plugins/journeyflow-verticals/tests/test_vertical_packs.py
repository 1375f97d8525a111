"""Vertical packs: registered beside the built-in verticals, templates
that validate strictly and pass their own journey tests, thresholds the
segmenters accept, and `journeyflow templates`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import journeyflow_verticals
import pytest
from click.testing import CliRunner
from journeyflow_verticals import PACKS, template_path

from journeyflow import (
    JourneyflowError,
    PluginError,
    Registry,
    Vertical,
    analyse_file,
    build_manager,
)
from journeyflow.cli import main
from journeyflow.testing.journeytest import collect, run_case

# the ten built-in verticals: what the built-in plugins alone register
BUILTIN_IDS = set(Registry.from_manager(build_manager(entry_points=False, disabled=())).verticals)


def _registry(*extra: object) -> Registry:
    pm = build_manager(entry_points=False, disabled=())
    pm.register(journeyflow_verticals, name="verticals")
    for i, plugin in enumerate(extra):
        pm.register(plugin, name=f"extra{i}")
    return Registry.from_manager(pm)


def test_packs_register_beside_the_builtin_verticals() -> None:
    registry = _registry()
    assert set(registry.verticals) >= BUILTIN_IDS  # the built-in ones are still there
    packs = {p.id for p in PACKS}
    assert packs == {
        "fashion-beauty/bridal-salon",
        "food-beverage/cafe",
        "business-services/marketing-agency",
    }
    assert not packs & BUILTIN_IDS
    for pack in PACKS:
        assert pack.parent in BUILTIN_IDS and pack.id.startswith(pack.parent + "/")
        assert registry.owner("journeyflow_verticals", pack.id) == "verticals"
        vertical = registry.verticals[pack.id]
        assert all(Path(t).is_file() for t in vertical.journey_templates)


def test_a_pack_reusing_a_builtin_id_would_be_refused() -> None:
    class Clash:
        @journeyflow_verticals.hookimpl
        def journeyflow_verticals(self) -> list[Vertical]:
            return [Vertical("food-beverage", "Food")]

    with pytest.raises(PluginError, match="both register vertical 'food-beverage'"):
        _registry(Clash())


def _known() -> object:
    rfm = pytest.importorskip("journeyflow_rfm")
    kpis = pytest.importorskip("journeyflow_kpis")
    engagement = pytest.importorskip("journeyflow_engagement")
    known = _registry(rfm, kpis, engagement).known_names()
    return dataclasses.replace(known, channels=known.channels | {"email", "sms", "webhook"})


@pytest.mark.parametrize("pack", PACKS, ids=lambda p: p.id)
def test_templates_validate_strictly_with_the_plugins_names(
    pack: journeyflow_verticals.Pack,
) -> None:
    known = _known()
    for name in pack.templates:
        path = template_path(name)
        plain = analyse_file(path)
        assert plain.problems == [], [p.location() + " " + p.message for p in plain.problems]
        checked = analyse_file(path, known=known)  # type: ignore[arg-type]
        assert checked.errors == [], [p.location() + " " + p.message for p in checked.errors]
        assert plain.journey is not None and plain.journey.vertical == pack.parent
        for kpi in plain.journey.kpis:
            assert kpi in pack.default_kpis or kpi in known.kpis  # type: ignore[attr-defined]


@pytest.mark.parametrize("pack", PACKS, ids=lambda p: p.id)
def test_templates_pass_their_journey_tests(pack: journeyflow_verticals.Pack) -> None:
    collected = collect([template_path(t) for t in pack.templates])
    assert not collected.errors and len(collected.cases) >= 4
    failures = [r.message for r in map(run_case, collected.cases) if r.outcome != "passed"]
    assert failures == []


def test_thresholds_are_settings_the_segmenters_take() -> None:
    rfm = pytest.importorskip("journeyflow_rfm")
    engagement = pytest.importorskip("journeyflow_engagement")
    for pack in PACKS:
        rfm.RfmSegmenter().configured(pack.segment_thresholds["rfm"])
        engagement.EngagementSegmenter().configured(pack.segment_thresholds["engagement"])
    cafe = engagement.EngagementSegmenter().configured(
        dict(PACKS[1].segment_thresholds)["engagement"]
    )
    assert cafe.config.segments == ("opened_30d", "clicked_2w", "dormant")


def test_default_kpis_are_registered_by_the_kpis_plugin() -> None:
    kpis = pytest.importorskip("journeyflow_kpis")
    registered = {k.name for k in kpis.collectors()}
    for pack in PACKS:
        assert set(pack.default_kpis) <= registered, pack.id


def test_templates_command_lists_and_copies(tmp_path: Path) -> None:
    runner = CliRunner()
    listed = runner.invoke(main, ["templates"])
    if listed.exit_code == 2 and "No such command" in listed.output:
        pytest.skip("journeyflow-verticals is not installed as an entry point")
    assert listed.exit_code == 0, listed.output
    assert "food-beverage/cafe" in listed.output and "cafe-lifecycle.yaml" in listed.output
    copied = runner.invoke(main, ["templates", "food-beverage/cafe", "--copy", str(tmp_path)])
    assert copied.exit_code == 0 and (tmp_path / "cafe-lifecycle.yaml").is_file()
    again = runner.invoke(main, ["templates", "food-beverage/cafe", "--copy", str(tmp_path)])
    assert again.exit_code == 1 and "exists" in again.output
    assert runner.invoke(main, ["templates", "pet-care"]).exit_code == 2
    assert runner.invoke(main, ["templates", "--copy", str(tmp_path)]).exit_code == 2
    validated = runner.invoke(main, ["validate", "--strict", str(tmp_path)])
    assert validated.exit_code == 0, validated.output


def test_template_path_of_a_missing_file() -> None:
    with pytest.raises(JourneyflowError, match="not installed"):
        template_path("nope.yaml")
