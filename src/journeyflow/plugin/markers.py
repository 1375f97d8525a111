"""The names the plugin system is built on, defined once: the pluggy project
name (also the entry-point group), the two markers, and the environment
variable that disables plugins by name.

Plugins import `hookimpl` from the façade: `from journeyflow import hookimpl`.
"""

from __future__ import annotations

import pluggy

__all__ = ["DISABLE_ENV", "GROUP", "hookimpl", "hookspec"]

GROUP = "journeyflow"  # the pluggy project name and the entry-point group
DISABLE_ENV = "JOURNEYFLOW_DISABLE_PLUGINS"  # comma-separated plugin names to block

hookspec = pluggy.HookspecMarker(GROUP)  # marks the specs in plugin/hookspecs.py
hookimpl = pluggy.HookimplMarker(GROUP)  # marks plugins' implementations
