"""The plugin system: how journeyflow finds what journeys name.

- `markers`: the pluggy project name, the `hookspec` / `hookimpl` markers and
  `JOURNEYFLOW_DISABLE_PLUGINS`, defined once;
- `hookspecs`: every hook journeyflow calls;
- `manager`: builds the PluginManager (built-ins, entry points, disabling);
- `registry`: what the plugins supply (channels, segmenters, KPIs, verticals,
  CEL functions), by name, with the plugin that registered each;
- `observer`: the after-commit notifications to observer hooks, one plugin at
  a time;
- `builtin/`: the plugins that ship with journeyflow (console and task
  channels, the ten built-in business verticals).

Plugins import what they need from the façade (`from journeyflow import
hookimpl, Channel, ...`), not from here.
"""
