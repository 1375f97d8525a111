"""The PostgreSQL fleet: several `journeyflow run --worker` processes, on any
hosts, sharing one database (docs/scaling.md).

procrastinate does what a fleet needs and journeyflow should not write
itself: worker registration and heartbeats, stalled-job recovery, per-key
locks, periodic jobs run once across the fleet, LISTEN/NOTIFY wake-ups.
What it moves are small jobs that each say "go and look": apply this inbox
shard, fire the timers due now, recompute the segments. The work itself —
the inbox, the timers, the outbox and their exactly-once rules — stays in
journeyflow's own tables, so a lost job loses nothing: the next one finds the
rows where they were.
"""
