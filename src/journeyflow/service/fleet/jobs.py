"""The fleet's procrastinate jobs: each says where to look, never what to do.

* `apply_shard(shard)` — apply the shard's inbox rows, oldest first, for up
  to `SHARD_BUDGET` seconds, then ask for another job if rows are left.
  `lock="shard:N"`: one worker at a time applies a shard, so a customer's
  events (one customer, one shard) are applied one at a time and in order;
  `queueing_lock="shard:N"`: at most one such job waits, however many
  wake-ups ask for it.
* `fire_timers()` — fire what is due now (`Engine.run_due`), then each next
  timer at its due time for up to `TIMER_BUDGET` seconds, under the lock
  `timers`: one worker at a time walks the due timers, the others do not
  queue up behind the same customers' advisory locks. The timers stay the
  engine's own rows (`enrolments.next_due_at`): a procrastinate job carrying
  both a lock and a `schedule_at` would hold that lock's later jobs back.
* `segments(timestamp)` — periodic, on the segment cadence: procrastinate
  defers each period's run once across the fleet (`defer_periodic_job`).
* `recover_stalled(timestamp)` — periodic, every `RECOVER_EVERY`: a job whose
  worker stopped sending heartbeats (killed, its host gone) is closed as
  failed and deleted, which frees its lock; the feeders defer a fresh one
  for what is still waiting. Nothing is retried blind: the rows say what is
  left.

A job that dies half-way loses nothing: `apply_inbox` deletes inbox rows
only after the engine committed them, and events, timers and effects are
each applied once by the engine's own keys (messageIds, due times, effect
keys).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import structlog
from procrastinate import App, PsycopgConnector, exceptions, jobs

from journeyflow.exceptions import JourneyflowError
from journeyflow.plugin.registry import Registry
from journeyflow.runtime.engine import Engine
from journeyflow.runtime.segments import SegmentSchedule
from journeyflow.service.applier import apply_inbox
from journeyflow.store.sql.inbox import Inbox

__all__ = [
    "APPLY_QUEUE",
    "CLOCK_QUEUE",
    "FleetCounts",
    "FleetJobs",
    "cadence_cron",
    "shard_lock",
]

log = structlog.get_logger("journeyflow.service.fleet")

APPLY_QUEUE = "journeyflow-apply"  # inbox shards
CLOCK_QUEUE = "journeyflow-clock"  # timers, segments, recovery: never behind a long apply
SHARD_BUDGET = 1.0  # seconds one apply_shard job goes on before handing the shard back
TIMER_BUDGET = 1.0  # seconds one fire_timers job waits for timers coming due
HEARTBEAT = 2.0  # seconds between a worker's heartbeats
STALLED_AFTER = 10.0  # seconds without a heartbeat before a worker's jobs are taken back
RECOVER_EVERY = 5  # seconds between looks for stalled jobs (a divisor of 60)
TIMERS = "timers"


def shard_lock(shard: int) -> str:
    return f"shard:{shard}"


def cadence_cron(every: timedelta) -> str:
    """A six-field cron (seconds last, as croniter reads it) running every
    `every` on the clock's grid; cadences the grid cannot hold are refused in
    one line."""
    seconds = int(every.total_seconds())
    if seconds != every.total_seconds() or seconds <= 0:
        raise JourneyflowError(f"segment cadence {every} is not a whole number of seconds")
    if seconds < 60 and 60 % seconds == 0:
        return f"* * * * * */{seconds}"
    if seconds % 60 == 0 and seconds < 3600 and 60 % (seconds // 60) == 0:
        return f"*/{seconds // 60} * * * * 0"
    if seconds % 3600 == 0 and seconds < 86400 and 24 % (seconds // 3600) == 0:
        return f"0 */{seconds // 3600} * * * 0"
    if seconds == 86400:
        return "0 0 * * * 0"
    raise JourneyflowError(
        f"a fleet recomputes segments on the clock's grid: give --segments-every a "
        f"divisor of a minute, an hour or a day (e.g. 30s, 15m, 6h, 1d), not {every}"
    )


@dataclass
class FleetCounts:
    """What this worker did, for its log line at exit."""

    applied: int = 0
    duplicates: int = 0
    shard_jobs: int = 0
    timers: int = 0
    segment_runs: int = 0
    recovered: int = 0


class FleetJobs:
    """The procrastinate app of one worker, its tasks bound to this process's
    engine and inbox.

    :param conninfo: libpq URL of the shared database (`jobschema.libpq_url`)
    """

    def __init__(
        self,
        conninfo: str,
        engine: Engine,
        inbox: Inbox,
        registry: Registry,
        *,
        batch_size: int,
        segments_every: timedelta | None,
    ) -> None:
        self.engine = engine
        self.inbox = inbox
        self.store = inbox.store
        self.batch_size = batch_size
        self.counts = FleetCounts()
        connector = PsycopgConnector(conninfo=conninfo, min_size=1, max_size=4)
        self.app = App(connector=connector)
        self.apply_shard = self.app.task(name="journeyflow.apply_shard", queue=APPLY_QUEUE)(
            self._apply_shard
        )
        self.fire_timers = self.app.task(
            name="journeyflow.fire_timers", queue=CLOCK_QUEUE, lock=TIMERS, queueing_lock=TIMERS
        )(self._fire_timers)
        recover = self.app.task(name="journeyflow.recover_stalled", queue=CLOCK_QUEUE)(
            self._recover_stalled
        )
        self.app.periodic(cron=f"* * * * * */{RECOVER_EVERY}", periodic_id="recover")(recover)
        self.schedule: SegmentSchedule | None = None
        if segments_every is not None and registry.segmenters:
            cron = cadence_cron(segments_every)
            self.schedule = SegmentSchedule(engine, registry.segmenters, segments_every)
            segments = self.app.task(name="journeyflow.segments", queue=CLOCK_QUEUE)(self._segments)
            self.app.periodic(cron=cron, periodic_id="segments")(segments)

    # --- deferring ---------------------------------------------------------------

    async def defer_shards(self, shards: Iterable[int]) -> int:
        """An apply_shard job for each of `shards` that has none waiting; how
        many were deferred."""
        deferred = 0
        for shard in shards:
            lock = shard_lock(shard)
            deferrer = self.apply_shard.configure(lock=lock, queueing_lock=lock)
            if await _defer_once(deferrer.defer_async, shard=shard):
                deferred += 1
        return deferred

    async def waiting_shard_jobs(self) -> set[int]:
        """Shards with an apply_shard job waiting (not yet running)."""
        found = await self.app.job_manager.list_jobs_async(
            task="journeyflow.apply_shard", status="todo"
        )
        return {int(str(job.task_kwargs["shard"])) for job in found}

    async def defer_timers(self) -> bool:
        return await _defer_once(self.fire_timers.defer_async)

    # --- the tasks -----------------------------------------------------------------

    async def _apply_shard(self, shard: int) -> dict[str, int]:
        applied, duplicates, more = await asyncio.to_thread(self._drain, shard)
        self.counts.shard_jobs += 1
        self.counts.applied += applied
        self.counts.duplicates += duplicates
        if more:  # the budget ran out first: hand the shard back to the queue
            await self.defer_shards([shard])
        return {"applied": applied, "duplicates": duplicates}

    def _drain(self, shard: int) -> tuple[int, int, bool]:
        """Apply the shard's rows a batch at a time until none are left or the
        budget is spent; (applied, duplicates, rows left)."""
        deadline = time.monotonic() + SHARD_BUDGET
        applied = duplicates = 0
        while True:
            batch = apply_inbox(self.engine, self.inbox, limit=self.batch_size, shard=shard)
            applied += batch.applied
            duplicates += batch.duplicates
            if batch.taken < self.batch_size:
                return applied, duplicates, False
            if time.monotonic() >= deadline:
                return applied, duplicates, True

    async def _fire_timers(self) -> int:
        fired = await asyncio.to_thread(self._fire_for_a_while)
        self.counts.timers += fired
        return fired

    def _fire_for_a_while(self) -> int:
        """Fire what is due, then keep firing each next timer at its due time
        for up to `TIMER_BUDGET` seconds: under a steady flow of timers one job
        fires many, each on time, instead of a job (a feeder's look, a defer,
        a fetch) for each."""
        deadline = datetime.now(timezone.utc) + timedelta(seconds=TIMER_BUDGET)
        fired = 0
        while True:
            fired += self.engine.run_due()
            due = self.store.next_due_at()
            if due is None or due > deadline:
                return fired
            time.sleep(max(0.0, (due - datetime.now(timezone.utc)).total_seconds()))

    async def _segments(self, timestamp: int) -> dict[str, Any]:
        assert self.schedule is not None
        schedule = self.schedule
        at = datetime.fromtimestamp(timestamp, timezone.utc)
        result = await asyncio.to_thread(schedule.run, at)  # logs "segments recomputed"
        self.counts.segment_runs += 1
        return {"customers": result.customers, "changed": result.changed}

    async def _recover_stalled(self, timestamp: int) -> int:
        """Close the jobs of workers that stopped sending heartbeats."""
        manager = self.app.job_manager
        stalled = await manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER)
        closed = 0
        for job in stalled:
            try:
                await manager.finish_job(job, status=jobs.Status.FAILED, delete_job=True)
            except exceptions.ProcrastinateException:
                continue  # finished meanwhile (its worker was only slow)
            closed += 1
            log.warning("stalled job taken back", task=job.task_name, lock=job.lock)
        await manager.prune_stalled_workers(STALLED_AFTER)
        self.counts.recovered += closed
        return closed


async def _defer_once(defer: Callable[..., Any], **kwargs: Any) -> bool:
    """Defer unless a job with the same queueing lock is waiting already."""
    try:
        await defer(**kwargs)
    except exceptions.AlreadyEnqueued:
        return False
    return True
