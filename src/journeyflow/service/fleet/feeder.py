"""The feeder: turns what waits in journeyflow's tables into procrastinate jobs.

The inbox and the timers are journeyflow's rows; procrastinate only hears
"look at shard 12" or "fire what is due". Each worker runs a feeder that
looks when its HTTP ingest has just committed a batch (`nudge`), when the
next timer comes due, and at least every `poll` whatever happens — the sweep
that makes a missed wake-up, a job lost with its worker, or events accepted
by a worker that died before nudging cost a second at most, never an event.

A shard gets a job only if it has none waiting; the `queueing_lock` settles
two feeders asking at the same moment (one job, the other told
`AlreadyEnqueued`). Timers: one `fire_timers` job, whatever the number of
feeders that saw the same due time.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timezone

import structlog

from journeyflow.service import metrics
from journeyflow.service.fleet.jobs import FleetJobs
from journeyflow.store.sql import SqlStore
from journeyflow.store.sql.inbox import Inbox

__all__ = ["Feeder"]

log = structlog.get_logger("journeyflow.service.fleet.feeder")

# seconds between two looks at the least: nudges from a busy HTTP ingest (one
# per accepted batch) coalesce, and a timer due now, its job not yet taken, is
# not asked for in a spin
SHORTEST_WAIT = 0.05
DEPTH_EVERY = 10.0  # seconds between two counts of the inbox for the metric


class Feeder:
    """:param poll: the longest wait between two looks, in seconds"""

    def __init__(self, jobs: FleetJobs, inbox: Inbox, store: SqlStore, *, poll: float) -> None:
        self.jobs = jobs
        self.inbox = inbox
        self.store = store
        self.poll = poll
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._counted_at = float("-inf")

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop `nudge` wakes the feeder in."""
        self._loop = loop

    def nudge(self) -> None:
        """Look now: new rows were committed (callable from any thread)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        while True:
            self._wake.clear()  # before looking: a nudge while it looks is kept
            try:
                wait = await self.look()
            except Exception:  # the database gone for a moment: look again later
                log.exception("feeder: could not look at the inbox and timers")
                wait = self.poll
            await asyncio.sleep(SHORTEST_WAIT)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.0, wait - SHORTEST_WAIT))

    async def look(self) -> float:
        """Defer jobs for what waits; seconds until the next look."""
        waiting = await asyncio.to_thread(self.inbox.waiting_shards)
        if waiting:
            queued = await self.jobs.waiting_shard_jobs()
            fresh = [shard for shard in waiting if shard not in queued]
            if fresh:
                await self.jobs.defer_shards(fresh)
        due = await asyncio.to_thread(self.store.next_due_at)
        wait = self.poll
        if due is not None:
            ahead = (due - datetime.now(timezone.utc)).total_seconds()
            if ahead <= 0:
                await self.jobs.defer_timers()
            wait = min(wait, ahead)
        now = asyncio.get_running_loop().time()
        if now - self._counted_at >= DEPTH_EVERY:  # a count walks the whole inbox
            self._counted_at = now
            metrics.INBOX_DEPTH.set(await asyncio.to_thread(self.inbox.depth))
        return max(SHORTEST_WAIT, wait)
