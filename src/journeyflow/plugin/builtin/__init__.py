"""The plugins that ship with journeyflow, registered exactly like installed
ones (pytest's `default_plugins`, datasette's `DEFAULT_PLUGINS`): each module
here implements hooks with `@hookimpl`, and `plugin.manager.build_manager` registers
it under the name below, before the entry points. Disable one like any
plugin: `JOURNEYFLOW_DISABLE_PLUGINS=journeyflow.console`.
"""

from __future__ import annotations

from types import ModuleType

from journeyflow.plugin.builtin import console, task, verticals

PLUGINS: tuple[tuple[str, ModuleType], ...] = (
    ("journeyflow.console", console),
    ("journeyflow.task", task),
    ("journeyflow.verticals", verticals),
)
