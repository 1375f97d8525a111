"""The runtime: the engine that advances customers on events and timers.

`engine` runs units of work against a store; `semantics` holds what one
customer's turn means (exits, entry, transitions, actions, timers); `machine`
compiles a journey version into transitions; `segments` recomputes segment
membership; `migration` moves in-flight enrolments to a newer journey version.
"""
