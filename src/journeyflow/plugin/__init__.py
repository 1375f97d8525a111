"""The plugin system: pluggy hook specifications, the one `hookimpl` marker,
the manager that loads installed plugins, the registry of what they supply, and
the built-in plugins (console channel, tasks for people, verticals).
"""
