"""The runtime: the engine that advances customers on events and timers.

- `engine`: runs units of work (a batch of events, of due timers, of segment
  changes) against a store, and tells listeners what happened after each commit;
- `semantics`: what one customer's turn means (exits, entry, transitions,
  actions, timers), seeing the engine only through its `Rules`;
- `machine`: a journey version compiled into transitions, shared by every customer;
- `segments`: recomputes segment membership with the segmenters it is given;
- `migration`: moves in-flight enrolments to a newer journey version;
- `gcpause`: pauses the cyclic garbage collector during a unit of work.

Imports point one way (engine -> semantics -> machine; migration and segments
use the engine), and down the layers only: to the store and the definitions,
never up to the plugin layer.
"""
