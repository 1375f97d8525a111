"""The plugin manager: journeyflow's hook specs, the built-in plugins, the
installed ones, and the ones disabled.

Order: the built-in plugins (`journeyflow.plugin.builtin`, registered exactly
like external ones), then every entry point of the group `journeyflow`, then
`check_pending()` so a misspelt hook name is an error instead of silence.
`JOURNEYFLOW_DISABLE_PLUGINS=a,b` blocks plugins by name (entry-point names;
built-ins are called `journeyflow.console`, `journeyflow.task`,
`journeyflow.verticals`); a blocked entry point is not even imported.

What the plugins register is in `plugin/registry.py`; the observer hooks are
called through `plugin/observer.py`.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

from journeyflow.exceptions import PluginError
from journeyflow.plugin import builtin, hookspecs
from journeyflow.plugin.markers import DISABLE_ENV, GROUP
from journeyflow.plugin.observer import call_each

if TYPE_CHECKING:
    import click

    from journeyflow.plugin.registry import Registry

__all__ = [
    "add_plugin_commands",
    "blocked_names",
    "build_manager",
    "describe_plugins",
    "disabled_from_env",
]


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


def describe_plugins(pm: pluggy.PluginManager, registry: Registry) -> list[dict[str, Any]]:
    """One dict per registered plugin: name, distribution, version, hooks, registers."""
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
