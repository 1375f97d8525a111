"""One `test_hook_<name>` per hook in hookspecs.py, each through the path
journeyflow really calls it by; and a test that fails when a hook has none.

Every test builds a fresh PluginManager with the built-ins only
(`entry_points=False`), so whatever else is installed never matters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import pluggy
import pytest
from click.testing import CliRunner

from journeyflow.clock import VirtualClock
from journeyflow.definition.loader import load_text
from journeyflow.delivery.outbox import dispatch
from journeyflow.exceptions import JourneyDefinitionError
from journeyflow.plugin.manager import add_plugin_commands, build_manager
from journeyflow.plugin.markers import hookimpl
from journeyflow.plugin.observer import Observer
from journeyflow.plugin.registry import Registry
from journeyflow.runtime.engine import Engine
from journeyflow.store import MemoryStore
from journeyflow.testing.conformance import make_effect
from journeyflow.testing.pytest_plugin import EngineFactory
from journeyflow.types import (
    CelFunction,
    Channel,
    CustomerFacts,
    Delivery,
    Effect,
    EnrolmentEnded,
    KpiCollector,
    Segmenter,
    TransitionInfo,
    Vertical,
)
from tests.helpers import at, track

HERE = Path(__file__).parent


def manager(*plugins: object) -> pluggy.PluginManager:
    pm = build_manager(entry_points=False, disabled=())
    for i, plugin in enumerate(plugins):
        pm.register(plugin, name=f"test-plugin-{i}")
    return pm


def journey(extra: str = "", send: str = "console", when: str = "true") -> str:
    return f"""
journey: hooks
version: 1
{extra}
entry: {{on: [signed_up], when: '{when}'}}
initial: welcome
states:
  welcome:
    on_enter: [{{send: {send}, template: hi}}]
    transitions:
      - {{on: bought, to: customer}}
      - {{after: 30d, to: gone}}
  customer: {{final: true}}
  gone: {{final: true}}
"""


def test_every_hook_has_a_test() -> None:
    """datasette's check: a hook without a `test_hook_<name>` is a failure."""
    source = "\n".join(p.read_text(encoding="utf-8") for p in HERE.glob("test_*.py"))
    tested = set(re.findall(r"^def test_hook_(journeyflow_\w+)\(", source, re.MULTILINE))
    hooks = {name for name in vars(manager().hook) if name.startswith("journeyflow_")}
    assert hooks, "no hooks found"
    missing = sorted(hooks - tested)
    assert not missing, f"hooks without a test_hook_<name> test: {', '.join(missing)}"


# --- registration hooks -----------------------------------------------------------------


def test_hook_journeyflow_channels() -> None:
    seen: list[Effect] = []

    class Pigeons:
        @hookimpl
        def journeyflow_channels(self) -> Iterable[Channel]:
            return [Channel("pigeon", deliver=lambda e: seen.append(e) or Delivery.sent())]

    registry = Registry.from_manager(manager(Pigeons()))
    assert {"console", "task", "pigeon"} <= set(registry.channels)
    assert registry.owner("journeyflow_channels", "pigeon") == "test-plugin-0"
    assert "pigeon" in registry.known_names().channels
    load_text(journey(send="pigeon"), known=registry.known_names())  # validates
    store = MemoryStore()
    store.effects["k"] = make_effect("k", "pigeon")
    assert dispatch(store, registry, clock=VirtualClock(at("2026-01-02T00:00:00Z"))).sent == 1
    assert [e.key for e in seen] == ["k"]


def test_hook_journeyflow_segmenters() -> None:
    def gold(customers: Iterable[CustomerFacts], now: datetime) -> Mapping[str, frozenset[str]]:
        return {"gold": frozenset(c.customer_id for c in customers)}

    class Vip:
        @hookimpl
        def journeyflow_segmenters(self) -> Iterable[Segmenter]:
            return [Segmenter("vip", ("gold", "silver"), compute=gold)]

    registry = Registry.from_manager(manager(Vip()))
    known = registry.known_names()
    assert {"vip", "vip:gold", "vip:silver"} <= known.segments
    segment_journey = journey().replace("entry: {on: [signed_up]", "entry: {segment: 'vip:gold'")
    load_text(segment_journey, known=known)
    with pytest.raises(JourneyDefinitionError, match="JF502"):
        load_text(segment_journey, known=Registry.from_manager(manager()).known_names())


def test_hook_journeyflow_kpis() -> None:
    class Kpis:
        @hookimpl
        def journeyflow_kpis(self) -> Iterable[KpiCollector]:
            return [KpiCollector("orders", "Orders", compute=lambda events, a, b: 3.0)]

    registry = Registry.from_manager(manager(Kpis()))
    assert (
        registry.kpis["orders"].compute([], at("2026-01-01T00:00:00Z"), at("2026-02-01T00:00:00Z"))
        == 3.0
    )
    load_text(journey("kpis: [orders]"), known=registry.known_names())
    with pytest.raises(JourneyDefinitionError, match="KPI 'revenue' is not registered"):
        load_text(journey("kpis: [revenue]"), known=registry.known_names())


def test_hook_journeyflow_verticals() -> None:
    class PetCare:
        @hookimpl
        def journeyflow_verticals(self) -> Iterable[Vertical]:
            return [Vertical("pet-care", "Pet care", default_kpis=("average_ticket",))]

    registry = Registry.from_manager(manager(PetCare()))
    builtin = {
        "food-beverage",
        "real-estate-architecture",
        "fashion-beauty",
        "business-services",
        "industry-agribusiness",
        "culture-leisure",
        "sport-health",
        "commerce-retail",
        "consulting-advisory",
        "communication-technology",
    }
    assert set(registry.verticals) == builtin | {"pet-care"}
    assert all(v.title and v.default_kpis for v in registry.verticals.values())
    assert registry.owner("journeyflow_verticals", "food-beverage") == "journeyflow.verticals"
    load_text(journey("vertical: pet-care"), known=registry.known_names())
    with pytest.raises(JourneyDefinitionError, match="vertical 'pets' is not registered"):
        load_text(journey("vertical: pets"), known=registry.known_names())


def test_hook_journeyflow_cel_functions(journeyflow_engine: EngineFactory) -> None:
    class Weekend:
        @hookimpl
        def journeyflow_cel_functions(self) -> Iterable[CelFunction]:
            return [CelFunction("is_weekend", lambda t: t.weekday() >= 5)]

    registry = Registry.from_manager(manager(Weekend()))
    text = journey(when="is_weekend(now)")
    loaded = load_text(text, known=registry.known_names())
    engine = journeyflow_engine(loaded, functions=registry.functions())
    engine.ingest(
        [
            track("sat", "signed_up", "2026-01-03T10:00:00Z"),  # a Saturday
            track("mon", "signed_up", "2026-01-05T10:00:00Z"),
        ]
    )  # a Monday
    assert [e.customer_id for e in engine.enrolments()] == ["sat"]
    with pytest.raises(JourneyDefinitionError, match="JF403"):
        load_text(text, known=Registry.from_manager(manager()).known_names())


def test_hook_journeyflow_commands() -> None:
    @click.command("hello")
    def hello() -> None:
        click.echo("hello from a plugin")

    class Commands:
        @hookimpl
        def journeyflow_commands(self, cli: click.Group) -> None:
            cli.add_command(hello)

    class Broken:
        @hookimpl
        def journeyflow_commands(self, cli: click.Group) -> None:
            raise RuntimeError("broken plugin")

    group = click.Group("journeyflow")
    add_plugin_commands(group, manager(Commands(), Broken()))
    result = CliRunner().invoke(group, ["hello"])
    assert result.exit_code == 0 and result.output == "hello from a plugin\n"


# --- observer hooks ---------------------------------------------------------------------


class Listener:
    def __init__(self) -> None:
        self.transitions: list[TransitionInfo] = []
        self.ended: list[EnrolmentEnded] = []

    @hookimpl
    def journeyflow_after_transition(self, transition: TransitionInfo) -> None:
        self.transitions.append(transition)

    @hookimpl
    def journeyflow_enrolment_ended(self, ended: EnrolmentEnded) -> None:
        self.ended.append(ended)


def engine_with(make: EngineFactory, pm: pluggy.PluginManager) -> Engine:
    return make(journey(), listeners=[Observer(pm)])


def test_hook_journeyflow_after_transition(journeyflow_engine: EngineFactory) -> None:
    listener = Listener()
    engine = engine_with(journeyflow_engine, manager(listener))
    engine.ingest([track("c1", "signed_up", "2026-01-01T10:00:00Z")])
    [entered] = listener.transitions
    assert (entered.customer_id, entered.journey, entered.version) == ("c1", "hooks", 1)
    assert (entered.from_state, entered.to_state) == (None, "welcome")
    assert entered.cause == "event:signed_up" and entered.at == at("2026-01-01T10:00:00Z")
    engine.advance_to(at("2026-03-01T00:00:00Z"))
    moved = listener.transitions[1]
    assert (moved.from_state, moved.to_state) == ("welcome", "gone")
    assert moved.at == at("2026-01-31T10:00:00Z")


def test_hook_journeyflow_enrolment_ended(journeyflow_engine: EngineFactory) -> None:
    listener = Listener()
    engine = engine_with(journeyflow_engine, manager(listener))
    engine.ingest(
        [
            track("c1", "signed_up", "2026-01-01T10:00:00Z"),
            track("c1", "bought", "2026-01-02T10:00:00Z"),
        ]
    )
    [ended] = listener.ended
    assert (ended.customer_id, ended.journey, ended.version) == ("c1", "hooks", 1)
    assert ended.status == "completed" and ended.reason == "final:customer"
    assert ended.at == at("2026-01-02T10:00:00Z")
    assert ended.enrolment_id == engine.enrolments("c1")[0].id


def _delivery_registry(answer: Delivery, seen: dict[str, Any]) -> Registry:
    class Pigeons:
        @hookimpl
        def journeyflow_channels(self) -> Iterable[Channel]:
            return [Channel("pigeon", deliver=lambda e: answer)]

    class Audit:
        @hookimpl
        def journeyflow_effect_delivered(self, effect: Effect, delivery: Delivery) -> None:
            seen["delivered"] = (effect, delivery)

        @hookimpl
        def journeyflow_effect_failed(self, effect: Effect, delivery: Delivery) -> None:
            seen["failed"] = (effect, delivery)

    return Registry.from_manager(manager(Pigeons(), Audit()))


def test_hook_journeyflow_effect_delivered() -> None:
    seen: dict[str, Any] = {}
    store = MemoryStore()
    store.effects["k"] = make_effect("k", "pigeon")
    dispatch(
        store,
        _delivery_registry(Delivery.sent("coo"), seen),
        clock=VirtualClock(at("2026-01-02T00:00:00Z")),
    )
    effect, delivery = seen["delivered"]
    assert (effect.key, effect.status, effect.attempts) == ("k", "sent", 1)
    assert delivery == Delivery.sent("coo")
    assert "failed" not in seen


def test_hook_journeyflow_effect_failed() -> None:
    seen: dict[str, Any] = {}
    store = MemoryStore()
    store.effects["k"] = make_effect("k", "pigeon")
    dispatch(
        store,
        _delivery_registry(Delivery.retry("storm"), seen),
        clock=VirtualClock(at("2026-01-02T00:00:00Z")),
    )
    effect, delivery = seen["failed"]
    assert (effect.key, effect.status, effect.attempts) == ("k", "pending", 1)
    assert delivery.status == "temporary_failure" and delivery.detail == "storm"
    assert "delivered" not in seen
