"""Builds the PluginManager, and the Registry of what plugins register.

Order: the built-in plugins (`journeyflow.plugin.builtin`, registered exactly like
external ones), then every entry point of the group `journeyflow`, then
`check_pending()` so a misspelt hook name is an error instead of silence.
`JOURNEYFLOW_DISABLE_PLUGINS=a,b` blocks plugins by name (entry-point names;
built-ins are called `journeyflow.console`, `journeyflow.task`,
`journeyflow.verticals`).

Registration hooks are called one implementation at a time, so that two
plugins registering the same name is an error naming both. Observer hooks are
called one implementation at a time too, each in its own try/except: one
plugin raising is logged (plugin and hook named) and never stops the engine or
the other plugins (pluggy issue #419).
"""

from __future__ import annotations

import difflib
import importlib.metadata
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pluggy
import structlog

from journeyflow.exceptions import PluginError
from journeyflow.plugin import hookspecs
from journeyflow.types import (
    CelFunction,
    Channel,
    EnrolmentEnded,
    KpiCollector,
    Segmenter,
    TransitionInfo,
    Vertical,
)

if TYPE_CHECKING:
    import click

    from journeyflow.definition.checks import KnownNames
    from journeyflow.runtime.semantics import Notification
    from journeyflow.store.base import Store

__all__ = [
    "DISABLE_ENV",
    "GROUP",
    "Observer",
    "Registry",
    "add_plugin_commands",
    "build_manager",
    "call_each",
    "describe_plugins",
    "hookimpl",
]

GROUP = "journeyflow"  # the entry-point group and the pluggy project name
DISABLE_ENV = "JOURNEYFLOW_DISABLE_PLUGINS"

hookimpl = pluggy.HookimplMarker(GROUP)

log = structlog.get_logger("journeyflow.plugin.manager")


# --- the manager ---------------------------------------------------------------


def disabled_from_env(environ: Mapping[str, str] | None = None) -> list[str]:
    """Plugin names listed in `JOURNEYFLOW_DISABLE_PLUGINS` (comma-separated)."""
    raw = (os.environ if environ is None else environ).get(DISABLE_ENV, "")
    return [name.strip() for name in raw.split(",") if name.strip()]


def build_manager(
    *, entry_points: bool = True, disabled: Iterable[str] | None = None
) -> pluggy.PluginManager:
    """A PluginManager with journeyflow's hook specs and its plugins.

    :param entry_points: also load the installed plugins (entry points of the
        group `journeyflow`); tests pass False for a manager with built-ins only
    :param disabled: plugin names to block; None reads `JOURNEYFLOW_DISABLE_PLUGINS`
    :raises PluginError: a plugin fails to import, implements a hook that does
        not exist, or two installed distributions use the same plugin name
    """
    from journeyflow.plugin import builtin

    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    for name in disabled_from_env() if disabled is None else disabled:
        pm.set_blocked(name)
    for name, module in builtin.PLUGINS:
        _register(pm, module, name)
    if entry_points:
        _load_entry_points(pm)
    _check_hook_names(pm)
    pm.check_pending()
    return pm


def _register(pm: pluggy.PluginManager, plugin: object, name: str) -> None:
    try:
        pm.register(plugin, name=name)  # returns None (no error) for a blocked name
    except pluggy.PluginValidationError as exc:
        raise PluginError(
            f"plugin {name!r} cannot be registered: {_one_line(exc)}; fix the hook "
            f"implementation or disable it with {DISABLE_ENV}={name}"
        ) from exc
    except ValueError as exc:  # the same module under two names
        raise PluginError(f"plugin {name!r} cannot be registered: {exc}") from exc


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _dist_label(dist: Any) -> str:
    try:
        meta = dist.metadata
        return f"{meta['Name']} {meta['Version']}"
    except Exception:  # a faked or broken distribution: still name the plugin
        return "an unnamed distribution"


def _dist_name(dist: Any) -> str:
    try:
        return str(dist.metadata["Name"]).lower().replace("_", "-")
    except Exception:
        return repr(dist)


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    # pluggy silently skips an entry point whose name is already taken; find
    # clashes first so two distributions using one name is an error naming both.
    owners: dict[str, Any] = {}
    for dist in list(importlib.metadata.distributions()):
        for ep in dist.entry_points:
            if ep.group != GROUP:
                continue
            first = owners.get(ep.name)
            if first is not None and _dist_name(first) != _dist_name(dist):
                raise PluginError(
                    f"two installed distributions use the plugin name {ep.name!r}: "
                    f"{_dist_label(first)} and {_dist_label(dist)}; uninstall one"
                )
            owners.setdefault(ep.name, dist)
    for name, dist in owners.items():
        if pm.is_blocked(name):
            continue
        if pm.has_plugin(name):
            raise PluginError(
                f"plugin {name!r} from {_dist_label(dist)} has the name of a "
                "built-in plugin; rename its entry point"
            )
        try:
            pm.load_setuptools_entrypoints(GROUP, name=name)
        except PluginError:
            raise
        except Exception as exc:
            raise PluginError(
                f"plugin {name!r} from {_dist_label(dist)} failed to load: "
                f"{type(exc).__name__}: {_one_line(exc)}; reinstall or uninstall it, or disable it "
                f"with {DISABLE_ENV}={name}"
            ) from exc


def _check_hook_names(pm: pluggy.PluginManager) -> None:
    known = [n for n in dir(hookspecs) if n.startswith("journeyflow_")]
    for name in sorted(vars(pm.hook)):
        caller = getattr(pm.hook, name)
        if not isinstance(caller, pluggy.HookCaller) or caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            if impl.optionalhook:
                continue
            guess = difflib.get_close_matches(name, known, n=1)
            hint = f" — did you mean {guess[0]!r}?" if guess else f"; hooks: {', '.join(known)}"
            raise PluginError(
                f"plugin {impl.plugin_name!r} implements {name!r}, which is "
                f"not a journeyflow hook{hint}"
            )


# --- calling hooks one implementation at a time ----------------------------------


def call_each(pm: pluggy.PluginManager, hook: str, **kwargs: Any) -> list[Any]:
    """Call every implementation of an observer hook, each in its own try/except.

    A plugin raising is logged with the plugin and hook names and skipped; the
    others still run. Returns the results of the implementations that did not
    raise, in pluggy's calling order (last registered first)."""
    caller: pluggy.HookCaller = getattr(pm.hook, hook)
    results: list[Any] = []
    for impl in reversed(caller.get_hookimpls()):
        if impl.hookwrapper or impl.wrapper:
            continue  # wrappers make no sense for notifications: documented
        try:
            results.append(impl.function(*[kwargs[arg] for arg in impl.argnames]))
        except Exception as exc:
            log.exception(
                "plugin hook failed",
                plugin=impl.plugin_name,
                hook=hook,
                error=f"{type(exc).__name__}: {exc}",
            )
    return results


class Observer:
    """An engine listener (`Engine(listeners=[Observer(pm)])`) that turns the
    engine's notifications into `journeyflow_after_transition` and
    `journeyflow_enrolment_ended` calls, isolated per plugin.

    :param pm: the plugin manager
    :param store: where to look up an enrolment's version when a notification
        does not carry the enrolment record
    """

    def __init__(self, pm: pluggy.PluginManager, store: Store | None = None) -> None:
        self.pm = pm
        self.store = store

    def __call__(self, note: Notification) -> None:
        if note.kind == "transition" and note.history is not None:
            if not self.pm.hook.journeyflow_after_transition.get_hookimpls():
                return  # nobody listens: skip the version lookup
            h = note.history
            info = TransitionInfo(
                customer_id=h.customer_id,
                journey=h.journey,
                version=self._version(note, h.customer_id, h.journey, h.enrolment_id),
                enrolment_id=h.enrolment_id,
                from_state=h.from_state,
                to_state=h.to_state or "",
                cause=h.cause,
                at=h.at,
            )
            call_each(self.pm, "journeyflow_after_transition", transition=info)
        elif note.kind == "enrolment_ended" and note.enrolment is not None:
            e = note.enrolment
            ended = EnrolmentEnded(
                customer_id=e.customer_id,
                journey=e.journey,
                version=e.version,
                enrolment_id=e.id,
                status=e.status,
                reason=e.end_reason,
                at=e.ended_at or e.entered_at,
            )
            call_each(self.pm, "journeyflow_enrolment_ended", ended=ended)

    def _version(
        self, note: Notification, customer_id: str, journey: str, enrolment_id: str
    ) -> int:
        if note.enrolment is not None:
            return note.enrolment.version
        if self.store is not None:
            for enrolment in self.store.get_enrolments(customer_id, journey):
                if enrolment.id == enrolment_id:
                    return enrolment.version
        return 0  # unknown: documented in docs/plugins.md


def add_plugin_commands(cli: click.Group, pm: pluggy.PluginManager | None = None) -> None:
    """Let plugins add commands (`journeyflow_commands`). A broken plugin set
    never breaks the command line: `journeyflow plugins` shows the error."""
    if pm is None:
        try:
            pm = build_manager()
        except PluginError as exc:
            # at import time, before logging is configured: say it on stderr
            import click

            click.echo(f"warning: plugins not loaded, their commands are missing: {exc}", err=True)
            return
    call_each(pm, "journeyflow_commands", cli=cli)


# --- the registry --------------------------------------------------------------


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


# --- describing what is installed -------------------------------------------------


def describe_plugins(
    pm: pluggy.PluginManager, registry: Registry | None = None
) -> list[dict[str, Any]]:
    """One dict per registered plugin: name, distribution, version, hooks, registers."""
    registry = registry if registry is not None else Registry.from_manager(pm)
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    try:
        own_version = importlib.metadata.version("journeyflow")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - source checkout
        own_version = "unknown"
    out: list[dict[str, Any]] = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue  # blocked
        dist = dists.get(id(plugin))
        if dist is not None:
            distribution, version = dist.project_name, dist.version
        elif name.startswith("journeyflow."):
            distribution, version = "journeyflow", own_version
        else:
            distribution, version = None, None
        hooks = sorted(c.name for c in (pm.get_hookcallers(plugin) or []))
        out.append(
            {
                "name": name,
                "distribution": distribution,
                "version": version,
                "builtin": name.startswith("journeyflow.") and dist is None,
                "hooks": hooks,
                "registers": registry.registered_by(name),
            }
        )
    return out


def blocked_names(pm: pluggy.PluginManager) -> Sequence[str]:
    """The names blocked by `disabled` / `JOURNEYFLOW_DISABLE_PLUGINS`."""
    return sorted(name for name, plugin in pm.list_name_plugin() if plugin is None)
