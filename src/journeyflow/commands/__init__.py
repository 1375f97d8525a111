"""The command line's commands, one module each: parse the options, call a
function of a lower layer (definition, runtime, reports, simulation, render,
testing), print. No report or rule is built here.

Every module here exposing a click command named `command` is added to the
`journeyflow` group by `cli.py`; `_common.py` holds the options and the engine
wiring (installed plugins, journeys folder) the commands share.
"""
