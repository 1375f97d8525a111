"""The limits every incoming event is held to, whatever the database.

Each is checked before anything is stored (`validation.py`), so SQLite and
PostgreSQL accept and refuse the same events, and no value reaches a column,
a JSON encoder or a timer computation that cannot hold it. `docs/events.md`
lists them for people.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

# Ids and names fill String(255) columns (store/tables.py: events.message_id,
# events.customer_id, events.name, customers.id). PostgreSQL refuses a longer
# value, SQLite would keep it: counted in characters, as PostgreSQL counts.
MAX_ID_LENGTH = 255  # userId / anonymousId, messageId
MAX_NAME_LENGTH = 255  # a track call's event name

# Objects and lists inside one another, the event itself being level 1: a
# Segment payload rarely goes past 5; 32 leaves room and keeps every reader
# (ours, the JSON encoders, PostgreSQL's JSONB) far from its recursion limits.
MAX_DEPTH = 32

# The event written as compact JSON (UTF-8): it is stored with every event and
# read back by segmenters and backtests, so one line cannot grow the database
# by megabytes.
MAX_EVENT_BYTES = 32 * 1024

# Integers fit in 64 bits, signed: orjson (the store's JSON encoder) and
# PostgreSQL's bigint hold no more, and a bigger number in a JSON column
# would come back as something else.
MIN_INTEGER = -(2**63)
MAX_INTEGER = 2**63 - 1

# Timestamps from 1970 through 2200 (UTC): anything outside is a typo or a
# placeholder, not a customer. The earliest keeps converting an offset
# (`+05:00`) clear of `datetime.min`; the latest leaves ~7,800 years before
# `datetime.max` for the timers an event arms, where the longest a journey
# may set is 10 years (definition/limits.py, MAX_DURATION).
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2200, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc)

# How far ahead of the engine's clock an event may be dated. An event moves
# its customer's time to its timestamp (timers due before it fire first), so
# one typo in a year would fire years of timers at once; a clock a few
# minutes fast is normal. Virtual clocks (simulations, journey tests) are not
# held to it: there, events are what moves time. See docs/semantics.md.
DEFAULT_CLOCK_SKEW = timedelta(minutes=5)

# A line of a JSON-lines file longer than this is refused without being
# parsed (or held in memory whole): no valid event comes near it.
MAX_LINE_BYTES = 1024 * 1024
