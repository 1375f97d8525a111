"""The plugin manager: built-ins, entry points (faked the pluggy way), blocking,
duplicate names, isolation of observers, `journeyflow plugins`.

Every test builds a fresh PluginManager; entry-point discovery is tested by
faking `importlib.metadata.distributions`. Only the last test looks at what is
really installed: the first-party webhook plugin, end to end.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
from collections.abc import Callable, Iterable
from email.message import Message
from pathlib import Path
from typing import Any

import pluggy
import pytest
import structlog
from click.testing import CliRunner

from journeyflow.definition.loader import load_text
from journeyflow.exceptions import PluginError
from journeyflow.plugin.manager import blocked_names, build_manager, describe_plugins
from journeyflow.plugin.markers import DISABLE_ENV, hookimpl
from journeyflow.plugin.observer import Observer, call_each
from journeyflow.plugin.registry import Registry
from journeyflow.testing.pytest_plugin import EngineFactory
from journeyflow.types import CelFunction, Channel, Delivery, TransitionInfo, Vertical
from tests.helpers import track

BUILTINS = ["journeyflow.console", "journeyflow.task", "journeyflow.verticals"]


def channels_plugin(*names: str) -> object:
    class Plugin:
        @hookimpl
        def journeyflow_channels(self) -> Iterable[Channel]:
            return [Channel(n, deliver=lambda e: Delivery.sent()) for n in names]

    return Plugin()


def fresh(*plugins: tuple[str, object]) -> pluggy.PluginManager:
    pm = build_manager(entry_points=False, disabled=())
    for name, plugin in plugins:
        pm.register(plugin, name=name)
    return pm


# --- the manager ---------------------------------------------------------------------


def test_builtins_are_registered_like_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DISABLE_ENV, raising=False)
    pm = build_manager(entry_points=False)
    assert [name for name, _ in pm.list_name_plugin()] == BUILTINS
    registry = Registry.from_manager(pm)
    assert sorted(registry.channels) == ["console", "task"]
    assert len(registry.verticals) == 10
    described = {p["name"]: p for p in describe_plugins(pm, registry)}
    assert described["journeyflow.console"]["distribution"] == "journeyflow"
    assert described["journeyflow.console"]["builtin"] is True
    assert described["journeyflow.task"]["hooks"] == ["journeyflow_channels"]
    assert described["journeyflow.task"]["registers"] == {"channels": ["task"]}


def test_plugins_are_disabled_by_name_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DISABLE_ENV, " journeyflow.console , nonexistent")
    pm = build_manager(entry_points=False)
    assert [name for name, p in pm.list_name_plugin() if p is not None] == [
        "journeyflow.task",
        "journeyflow.verticals",
    ]
    assert "console" not in Registry.from_manager(pm).channels
    assert blocked_names(pm) == ["journeyflow.console", "nonexistent"]
    # an explicit list replaces the environment's
    assert (
        "console" in Registry.from_manager(build_manager(entry_points=False, disabled=[])).channels
    )


def test_duplicate_registration_names_both_plugins() -> None:
    pm = fresh(("journeyflow_email", channels_plugin("email")), ("acme", channels_plugin("email")))
    with pytest.raises(PluginError) as caught:
        Registry.from_manager(pm)
    assert str(caught.value).startswith(
        "plugin 'journeyflow_email' and plugin 'acme' both register channel 'email'"
    )
    assert f"{DISABLE_ENV}=acme" in str(caught.value)


def test_a_plugin_cannot_take_a_builtin_name() -> None:
    class Foods:
        @hookimpl
        def journeyflow_verticals(self) -> Iterable[Vertical]:
            return [Vertical("food-beverage", "Food")]

    with pytest.raises(
        PluginError,
        match=re.escape(
            "plugin 'journeyflow.verticals' and plugin 'foods' "
            "both register vertical 'food-beverage'"
        ),
    ):
        Registry.from_manager(fresh(("foods", Foods())))
    with pytest.raises(
        PluginError,
        match=re.escape(
            "plugin 'journeyflow.console' and plugin 'x' both register channel 'console'"
        ),
    ):
        Registry.from_manager(fresh(("x", channels_plugin("console"))))


def test_registration_must_return_records() -> None:
    class Loose:
        @hookimpl
        def journeyflow_channels(self) -> Any:
            return [{"name": "pigeon"}]

    with pytest.raises(
        PluginError,
        match=r"plugin 'loose' returned dict .* from "
        r"'journeyflow_channels'; return journeyflow.types."
        r"Channel records",
    ):
        Registry.from_manager(fresh(("loose", Loose())))


def test_a_raising_registration_hook_is_isolated() -> None:
    class Broken:
        @hookimpl
        def journeyflow_channels(self) -> Iterable[Channel]:
            raise RuntimeError("no config")

    registry = Registry.from_manager(
        fresh(("broken", Broken()), ("fine", channels_plugin("pigeon")))
    )
    assert "pigeon" in registry.channels and "console" in registry.channels
    assert registry.problems == [
        "plugin 'broken' raised in 'journeyflow_channels': RuntimeError: no config"
    ]


def test_a_misspelt_hook_is_an_error(installed: Callable[..., None]) -> None:
    class Typo:
        @hookimpl
        def journeyflow_chanels(self) -> list[Channel]:
            return []

    installed(FakeDistribution("typo", "1.0", FakeEntryPoint("typo", Typo)))
    with pytest.raises(
        PluginError,
        match="plugin 'typo' implements 'journeyflow_chanels', "
        "which is not a journeyflow hook — did you mean "
        "'journeyflow_channels'",
    ):
        build_manager()


def test_a_wrong_hook_signature_is_an_error(installed: Callable[..., None]) -> None:
    class Wrong:
        @hookimpl
        def journeyflow_after_transition(self, moved: object) -> None:
            pass

    installed(FakeDistribution("wrong", "1.0", FakeEntryPoint("wrong", Wrong)))
    with pytest.raises(
        PluginError,
        match=r"plugin 'wrong' from wrong 1.0 failed to load: "
        r"PluginValidationError.*'moved'",
    ):
        build_manager()


def test_a_cel_function_cannot_shadow_ours() -> None:
    class Clash:
        @hookimpl
        def journeyflow_cel_functions(self) -> Iterable[CelFunction]:
            return [CelFunction("month_end", lambda t: t)]

    with pytest.raises(
        PluginError, match="registers CEL function 'month_end', which journeyflow already provides"
    ):
        Registry.from_manager(fresh(("clash", Clash())))


def test_unknown_names_are_errors_naming_the_registered_ones() -> None:
    known = Registry.from_manager(fresh(("p", channels_plugin("pigeon")))).known_names()
    text = """
journey: j
version: 1
entry: {on: [e]}
initial: a
states:
  a:
    on_enter: [{send: emial, template: t}]
    transitions: [{on: x, to: b}]
  b: {final: true}
"""
    from journeyflow.definition.loader import validate_text

    [problem] = [p for p in validate_text(text, known=known) if p.code == "JF501"]
    assert problem.severity == "error"
    assert "channel 'emial' is not registered by any installed plugin" in problem.message
    assert "registered: console, pigeon, task" in problem.message


# --- observers are isolated ----------------------------------------------------------------


def test_a_raising_observer_never_stops_the_engine_or_the_others(
    journeyflow_engine: EngineFactory,
) -> None:
    heard: list[TransitionInfo] = []

    class Raising:
        @hookimpl
        def journeyflow_after_transition(self, transition: TransitionInfo) -> None:
            raise ValueError("observer bug")

    class Calm:
        @hookimpl
        def journeyflow_after_transition(self, transition: TransitionInfo) -> None:
            heard.append(transition)

    # registered around the raising one, so it runs both before and after it
    pm = fresh(("calm-1", Calm()), ("raising", Raising()), ("calm-2", Calm()))
    journey = load_text("""
journey: j
version: 1
entry: {on: [signed_up]}
initial: a
states:
  a: {transitions: [{on: bought, to: b}]}
  b: {final: true}
""")
    engine = journeyflow_engine(journey, listeners=[Observer(pm)])
    with structlog.testing.capture_logs() as logs:
        engine.ingest(
            [
                track("c1", "signed_up", "2026-01-01T10:00:00Z"),
                track("c1", "bought", "2026-01-01T11:00:00Z"),
            ]
        )
    assert engine.enrolments("c1")[0].status == "completed"
    assert len(heard) == 4  # two transitions, two calm plugins
    failures = [entry for entry in logs if entry["event"] == "plugin hook failed"]
    assert len(failures) == 2
    assert failures[0]["plugin"] == "raising"
    assert failures[0]["hook"] == "journeyflow_after_transition"
    assert failures[0]["error"] == "ValueError: observer bug"


def test_call_each_passes_only_the_arguments_an_implementation_asks_for() -> None:
    class Lazy:
        @hookimpl
        def journeyflow_effect_failed(self, delivery: Delivery) -> str:
            return f"failed: {delivery.detail}"

    pm = fresh(("lazy", Lazy()))
    assert call_each(
        pm, "journeyflow_effect_failed", effect=None, delivery=Delivery.retry("x")
    ) == ["failed: x"]


# --- entry points, faked as pluggy's own tests do ---------------------------------------


class FakeEntryPoint:
    group = "journeyflow"

    def __init__(self, name: str, load: Callable[[], object], group: str = "journeyflow"):
        self.name, self._load, self.group = name, load, group
        self.value = f"{name}_module"

    def load(self) -> object:
        return self._load()


class FakeDistribution:
    def __init__(self, name: str, version: str, *entry_points: FakeEntryPoint) -> None:
        self.metadata = Message()
        self.metadata["Name"], self.metadata["Version"] = name, version
        self.version = version
        self.entry_points = entry_points


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    monkeypatch.delenv(DISABLE_ENV, raising=False)

    def install(*dists: FakeDistribution) -> None:
        monkeypatch.setattr(importlib.metadata, "distributions", lambda: list(dists))

    return install


def test_entry_points_are_discovered(installed: Callable[..., None]) -> None:
    plugin = channels_plugin("pigeon")
    installed(
        FakeDistribution(
            "acme-pigeons",
            "1.2.0",
            FakeEntryPoint("pigeons", lambda: plugin),
            FakeEntryPoint("other", lambda: 1 / 0, group="not-ours"),
        )
    )
    pm = build_manager()
    assert [name for name, _ in pm.list_name_plugin()] == [*BUILTINS, "pigeons"]
    registry = Registry.from_manager(pm)
    assert registry.owner("journeyflow_channels", "pigeon") == "pigeons"
    [described] = [p for p in describe_plugins(pm, registry) if p["name"] == "pigeons"]
    assert described == {
        "name": "pigeons",
        "distribution": "acme-pigeons",
        "version": "1.2.0",
        "builtin": False,
        "hooks": ["journeyflow_channels"],
        "registers": {"channels": ["pigeon"]},
    }
    assert [n for n, _ in build_manager(entry_points=False).list_name_plugin()] == BUILTINS


def test_a_blocked_entry_point_is_not_even_imported(installed: Callable[..., None]) -> None:
    installed(FakeDistribution("broken", "0.1", FakeEntryPoint("broken", lambda: 1 / 0)))
    with pytest.raises(PluginError) as caught:
        build_manager()
    assert str(caught.value) == (
        "plugin 'broken' from broken 0.1 failed to load: ZeroDivisionError: division by zero; "
        f"reinstall or uninstall it, or disable it with {DISABLE_ENV}=broken"
    )
    pm = build_manager(disabled=["broken"])
    assert blocked_names(pm) == ["broken"]


def test_two_distributions_with_one_plugin_name(installed: Callable[..., None]) -> None:
    installed(
        FakeDistribution("acme-email", "1.0", FakeEntryPoint("email", object)),
        FakeDistribution("journeyflow-email", "0.1.0", FakeEntryPoint("email", object)),
    )
    with pytest.raises(
        PluginError,
        match=re.escape(
            "two installed distributions use the plugin name "
            "'email': acme-email 1.0 and journeyflow-email 0.1.0"
        ),
    ):
        build_manager()


def test_an_entry_point_cannot_take_a_builtin_plugin_name(installed: Callable[..., None]) -> None:
    installed(FakeDistribution("sneaky", "1.0", FakeEntryPoint("journeyflow.console", object)))
    with pytest.raises(PluginError, match="has the name of a built-in plugin"):
        build_manager()


def test_an_entry_point_channel_clashing_with_a_builtin(installed: Callable[..., None]) -> None:
    plugin = channels_plugin("task")
    installed(FakeDistribution("acme-tasks", "2.0", FakeEntryPoint("acme", lambda: plugin)))
    with pytest.raises(
        PluginError,
        match=re.escape("plugin 'journeyflow.task' and plugin 'acme' both register channel 'task'"),
    ):
        Registry.from_manager(build_manager())


def test_plugins_command(installed: Callable[..., None]) -> None:
    from journeyflow.cli import main

    plugin = channels_plugin("pigeon")
    installed(FakeDistribution("acme-pigeons", "1.2.0", FakeEntryPoint("pigeons", lambda: plugin)))
    runner = CliRunner()
    result = runner.invoke(
        main, ["plugins", "--format", "json"], env={DISABLE_ENV: "journeyflow.console"}
    )
    assert result.exit_code == 0, result.output
    listing = json.loads(result.output)
    assert [p["name"] for p in listing["plugins"]] == [
        "journeyflow.task",
        "journeyflow.verticals",
        "pigeons",
    ]
    assert listing["disabled"] == ["journeyflow.console"]
    result = runner.invoke(main, ["plugins"])
    assert result.exit_code == 0
    assert (
        "pigeons  (acme-pigeons 1.2.0)\n    hooks: journeyflow_channels\n"
        "    channels: pigeon\n" in result.output
    )


def test_plugins_command_shows_a_broken_plugin_without_a_traceback(
    installed: Callable[..., None],
) -> None:
    from journeyflow.cli import main

    installed(FakeDistribution("broken", "0.1", FakeEntryPoint("broken", lambda: 1 / 0)))
    result = CliRunner().invoke(main, ["plugins"])
    assert result.exit_code == 1
    assert "Error: plugin 'broken' from broken 0.1 failed to load" in result.output
    assert "Traceback" not in result.output


# --- the one test that looks at what is installed ---------------------------------------------


def test_installed_webhook_plugin_end_to_end(tmp_path: Path) -> None:
    """`./dev` installs plugins/*; here the real entry point, a journey with
    `send: webhook`, `journeyflow ingest` and `journeyflow deliver` to a local server."""
    from journeyflow.cli import main
    from journeyflow.testing.conformance import LocalHTTPServer

    try:
        importlib.metadata.distribution("journeyflow-webhook")
    except importlib.metadata.PackageNotFoundError:
        pytest.fail(
            "journeyflow-webhook is not installed: run ./dev test (it installs "
            "plugins/*) or pip install -e plugins/journeyflow-webhook"
        )
    # only the plugin under test: another installed plugin (half-built by a
    # colleague, say) must not decide this test
    others = sorted(
        {ep.name for ep in importlib.metadata.entry_points(group="journeyflow")} - {"webhook"}
    )
    runner = CliRunner()
    env = {
        DISABLE_ENV: ",".join(others),
        "JOURNEYFLOW_WEBHOOK_SECRET": "s3cret",
        "JOURNEYFLOW_STATE_DIR": str(tmp_path / "state"),
    }
    result = runner.invoke(main, ["plugins", "--format", "json"], env=env)
    assert result.exit_code == 0, result.output
    [webhook] = [p for p in json.loads(result.output)["plugins"] if p["name"] == "webhook"]
    assert webhook["distribution"] == "journeyflow-webhook"
    assert webhook["registers"] == {"channels": ["webhook"]}

    journeys = tmp_path / "journeys"
    journeys.mkdir()
    (journeys / "hook.yaml").write_text("""
journey: hook
version: 1
entry: {on: [signed_up]}
initial: told
states:
  told:
    on_enter: [{send: webhook, template: crm-sync, data: {plan: '=event.properties.plan'}}]
    transitions: [{after: 1d, to: done}]
  done: {final: true}
""")
    known = Registry.from_manager(build_manager(disabled=others)).known_names()
    load_text((journeys / "hook.yaml").read_text(), known=known)  # an error if not registered
    result = runner.invoke(main, ["validate", str(journeys)])
    assert result.exit_code == 0, result.output

    events = tmp_path / "events.jsonl"
    events.write_text(
        json.dumps(track("c1", "signed_up", "2026-01-01T10:00:00Z", plan="pro")) + "\n"
    )
    db = f"sqlite:///{tmp_path / 'jf.db'}"
    result = runner.invoke(
        main, ["ingest", str(events), "-j", str(journeys), "-d", db, "--no-timers"]
    )
    assert result.exit_code == 0, result.output
    with LocalHTTPServer() as server:
        result = runner.invoke(
            main, ["deliver", "-d", db], env={**env, "JOURNEYFLOW_WEBHOOK_URL": f"{server.url}/crm"}
        )
        assert result.exit_code == 0, result.output
        assert "1 sent, 0 to retry, 0 failed" in result.output
        [request] = server.requests
    body = json.loads(request["body"])
    assert (body["customer_id"], body["template"], body["data"]) == (
        "c1",
        "crm-sync",
        {"plan": "pro"},
    )
    assert request["headers"]["x-journeyflow-signature"].startswith("sha256=")
