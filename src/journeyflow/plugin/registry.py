"""What the plugins supply: channels, segmenters, KPI collectors, verticals
and CEL functions, by name, with the plugin that registered each.

`Registry.from_manager(pm)` calls each registration hook implementation one at
a time, so two plugins registering one name is an error naming both, and a
plugin whose hook raises is logged and listed in `problems` while the others
still register.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pluggy
import structlog

from journeyflow.exceptions import PluginError
from journeyflow.plugin.markers import DISABLE_ENV
from journeyflow.types import CelFunction, Channel, KpiCollector, Segmenter, Vertical

if TYPE_CHECKING:
    from journeyflow.definition.checks import KnownNames

__all__ = ["Registry"]

log = structlog.get_logger("journeyflow.plugin.registry")


@dataclass(frozen=True)
class _Kind:
    noun: str  # "channel": used in messages
    hook: str
    record: type
    attr: str  # the record field holding its name


_KINDS = (
    _Kind("channel", "journeyflow_channels", Channel, "name"),
    _Kind("segmenter", "journeyflow_segmenters", Segmenter, "name"),
    _Kind("KPI", "journeyflow_kpis", KpiCollector, "name"),
    _Kind("vertical", "journeyflow_verticals", Vertical, "id"),
    _Kind("CEL function", "journeyflow_cel_functions", CelFunction, "name"),
)


@dataclass
class Registry:
    """Everything the plugins register, by name, with the plugin that did.

    Build it with `Registry.from_manager(pm)`.
    """

    channels: dict[str, Channel] = field(default_factory=dict)
    segmenters: dict[str, Segmenter] = field(default_factory=dict)
    kpis: dict[str, KpiCollector] = field(default_factory=dict)
    verticals: dict[str, Vertical] = field(default_factory=dict)
    cel_functions: dict[str, CelFunction] = field(default_factory=dict)
    owners: dict[tuple[str, str], str] = field(default_factory=dict)  # (hook, name) -> plugin
    problems: list[str] = field(default_factory=list)  # plugins whose registration raised
    manager: pluggy.PluginManager | None = None

    @classmethod
    def from_manager(cls, pm: pluggy.PluginManager) -> Registry:
        """Call each registration hook implementation one by one.

        :raises PluginError: two plugins register the same name (both named),
            or a plugin returns something that is not the hook's record type
        """
        registry = cls(manager=pm)
        tables: dict[str, dict[str, Any]] = {
            "journeyflow_channels": registry.channels,
            "journeyflow_segmenters": registry.segmenters,
            "journeyflow_kpis": registry.kpis,
            "journeyflow_verticals": registry.verticals,
            "journeyflow_cel_functions": registry.cel_functions,
        }
        for kind in _KINDS:
            caller: pluggy.HookCaller = getattr(pm.hook, kind.hook)
            for impl in caller.get_hookimpls():  # registration order: built-ins first
                if impl.hookwrapper or impl.wrapper:
                    continue
                try:
                    returned: Any = impl.function()
                    items = list(returned) if returned is not None else []
                except Exception as exc:
                    problem = (
                        f"plugin {impl.plugin_name!r} raised in {kind.hook!r}: "
                        f"{type(exc).__name__}: {exc}"
                    )
                    log.exception(
                        "plugin registration failed", plugin=impl.plugin_name, hook=kind.hook
                    )
                    registry.problems.append(problem)
                    continue
                for item in items:
                    registry._add(kind, tables[kind.hook], item, impl.plugin_name)
        return registry

    def _add(self, kind: _Kind, table: dict[str, Any], item: Any, plugin: str) -> None:
        if not isinstance(item, kind.record):
            raise PluginError(
                f"plugin {plugin!r} returned {type(item).__name__} {item!r} from "
                f"{kind.hook!r}; return journeyflow.types.{kind.record.__name__} records"
            )
        name = getattr(item, kind.attr)
        if name in table:
            first = self.owners[(kind.hook, name)]
            raise PluginError(
                f"plugin {first!r} and plugin {plugin!r} both register {kind.noun} {name!r}; "
                f"uninstall one, or disable it with {DISABLE_ENV}={plugin}"
            )
        if kind.record is CelFunction:
            from journeyflow.definition.cel import HELPER_FUNCTIONS, STANDARD_FUNCTIONS

            if name in HELPER_FUNCTIONS | STANDARD_FUNCTIONS:
                raise PluginError(
                    f"plugin {plugin!r} registers CEL function {name!r}, which "
                    "journeyflow already provides; give it another name"
                )
        table[name] = item
        self.owners[(kind.hook, name)] = plugin

    def known_names(self) -> KnownNames:
        """The names journeys may use, for the static checks (unknown names
        become errors naming the registered ones)."""
        from journeyflow.definition.checks import KnownNames

        segments = set(self.segmenters)
        for segmenter in self.segmenters.values():
            segments.update(f"{segmenter.name}:{s}" for s in segmenter.segments)
        return KnownNames(
            channels=frozenset(self.channels),
            segments=frozenset(segments),
            kpis=frozenset(self.kpis),
            verticals=frozenset(self.verticals),
            functions=frozenset(self.cel_functions),
        )

    def functions(self) -> dict[str, Callable[..., Any]]:
        """CEL functions for `Engine(functions=...)`."""
        return {name: f.function for name, f in self.cel_functions.items()}

    def registered_by(self, plugin: str) -> dict[str, list[str]]:
        """What one plugin registered: {"channels": [...], ...} (non-empty kinds only)."""
        out: dict[str, list[str]] = {}
        for (hook, name), owner in self.owners.items():
            if owner == plugin:
                out.setdefault(hook.removeprefix("journeyflow_"), []).append(name)
        return {kind: sorted(names) for kind, names in sorted(out.items())}

    def owner(self, hook: str, name: str) -> str | None:
        """The plugin that registered `name` through `hook`, if any."""
        return self.owners.get((hook, name))
