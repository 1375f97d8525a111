"""CLI commands, one module each. Every module here exposing a click command
named `command` is added to the `journeyflow` group by `cli.py`."""
