"""`journeyflow run --worker`: one of several processes sharing a PostgreSQL.

Each worker, on any host, runs in one asyncio loop:

* the HTTP ingest (uvicorn, the same app as a single process), unless
  `--no-http`; each accepted batch is committed to the inbox, then nudges
  this worker's feeder;
* two procrastinate workers: one takes `apply_shard` jobs, one takes the
  clock's jobs (`fire_timers`, segments, stalled-job recovery), so a timer is
  never stuck behind a long apply (`fleet/jobs.py`);
* the feeder (`fleet/feeder.py`): turns waiting inbox shards and due timers
  into jobs, when nudged and at least every `poll` — the sweep that catches
  whatever a wake-up missed;
* a delivery thread running the outbox dispatcher: its claims are leased
  rows taken `FOR UPDATE SKIP LOCKED`, so every worker can deliver.

procrastinate's tables live in the same database and are installed at start,
once across workers starting together (`fleet/jobschema.py`).

SIGTERM or SIGINT: `/readyz` turns 503, the listener closes after finishing
open requests, the running jobs finish (within `grace`), the dispatcher ends
its current send; exit 0. Accepted rows still waiting stay in the inbox for
the other workers (or this one, restarted). kill -9 loses nothing either:
the worker's heartbeats stop, its jobs are taken back by `recover_stalled`,
its outbox leases run out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Generator
from typing import Any

import structlog
import uvicorn

from journeyflow.clock import SystemClock
from journeyflow.delivery.outbox import Deliverer
from journeyflow.exceptions import JourneyflowError
from journeyflow.plugin.registry import Registry
from journeyflow.runtime.engine import Engine
from journeyflow.service import metrics
from journeyflow.service.runner import count_notification
from journeyflow.service.serving import count_delivery, listen, server_config, server_url
from journeyflow.service.settings import RunSettings
from journeyflow.store.sql import SqlStore
from journeyflow.store.sql.inbox import Inbox

__all__ = ["run_worker"]

log = structlog.get_logger("journeyflow.service.workers")

AppFactory = Callable[..., Any]  # service.http.create_app: keyword arguments, an ASGI app


def run_worker(
    settings: RunSettings, engine: Engine, registry: Registry, app_factory: AppFactory | None
) -> int:
    """Run one fleet worker until SIGTERM or SIGINT; the exit code.

    :param engine: over the shared PostgreSQL store (a `SqlStore`)
    :param app_factory: builds the HTTP ingest app from `inbox`, `store`,
        `settings`, `on_accepted` and `ready` (None, or `--no-http`: no HTTP here)
    :raises JourneyflowError: not PostgreSQL, or procrastinate's tables cannot
        be installed (one line)
    """
    store = engine.store
    if not isinstance(store, SqlStore) or store.dialect != "postgresql":
        raise JourneyflowError("--worker needs PostgreSQL: workers share one database")
    try:
        from journeyflow.service.fleet.jobschema import install_job_schema, libpq_url
    except ImportError as exc:  # pragma: no cover - the postgres extra is missing
        raise JourneyflowError(
            f"--worker needs procrastinate and psycopg: pip install 'journeyflow[postgres]' "
            f"({exc.name} is missing)"
        ) from None
    listener = None
    if settings.http and app_factory is not None:
        # bound before anything else starts: a port in use is one line and
        # nothing to undo (raised from inside the loop, its pools and tasks
        # would be finalised at exit, and one of them hangs there)
        listener = listen(settings.host, settings.port)
    conninfo = libpq_url(settings.database)
    try:
        if install_job_schema(conninfo):
            log.info("procrastinate's tables installed")
    except Exception as exc:  # psycopg.Error: the server, a permission
        raise JourneyflowError(f"cannot install the job tables: {exc}".splitlines()[0]) from None
    logging.getLogger("procrastinate").setLevel(logging.WARNING)  # a line per job is noise
    worker = FleetWorker(settings, engine, registry, store, conninfo, app_factory, listener)
    return asyncio.run(worker.serve())


class FleetWorker:
    """One worker's loop and its parts (see the module's docstring)."""

    def __init__(
        self,
        settings: RunSettings,
        engine: Engine,
        registry: Registry,
        store: SqlStore,
        conninfo: str,
        app_factory: AppFactory | None,
        listener: socket.socket | None = None,
    ) -> None:
        from journeyflow.service.fleet.feeder import Feeder
        from journeyflow.service.fleet.jobs import FleetJobs

        self.settings = settings
        self.engine = engine
        self.registry = registry
        self.store = store
        self.inbox = Inbox(store, shards=settings.shards)
        self.app_factory = app_factory
        self.listener = listener  # the HTTP ingest's bound socket, when it serves here
        self.jobs = FleetJobs(
            conninfo,
            engine,
            self.inbox,
            registry,
            batch_size=settings.batch_size,
            segments_every=settings.segments_every,
        )
        self.feeder = Feeder(self.jobs, self.inbox, store, poll=settings.poll.total_seconds())
        self.name = f"{socket.gethostname()}-{os.getpid()}"
        self._ready = False
        self._stopping = threading.Event()
        self._server: uvicorn.Server | None = None
        engine.listeners.append(count_notification)

    def ready(self) -> bool:
        return self._ready and not self._stopping.is_set()

    async def serve(self) -> int:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        from journeyflow.service.fleet.jobs import APPLY_QUEUE, CLOCK_QUEUE

        async with self.jobs.app.open_async():
            self.feeder.bind(loop)
            tasks: dict[str, asyncio.Task[None]] = {}
            if self.listener is not None:
                tasks["http"] = await self._start_http(self.listener)
            tasks["feeder"] = asyncio.create_task(self.feeder.run())
            tasks["apply"] = asyncio.create_task(self._procrastinate(APPLY_QUEUE))
            tasks["clock"] = asyncio.create_task(self._procrastinate(CLOCK_QUEUE))
            delivery: threading.Thread | None = None
            if self.settings.deliver:
                delivery = threading.Thread(
                    target=self._delivery_loop, name="journeyflow-delivery", daemon=True
                )
                delivery.start()
            self._ready = True
            log.info("fleet worker ready", worker=self.name, url=self.url)
            stopped = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait(
                [stopped, *tasks.values()], return_when=asyncio.FIRST_COMPLETED
            )
            failed = [name for name, task in tasks.items() if task in done]
            for name in failed:
                log.error("part of the worker ended", part=name, error=_error(tasks[name]))
            code = await self._shut_down(tasks, delivery)
            stopped.cancel()
        counts = self.jobs.counts
        log.info(
            "fleet worker stopped",
            worker=self.name,
            applied=counts.applied,
            duplicates=counts.duplicates,
            shard_jobs=counts.shard_jobs,
            timers=counts.timers,
            recovered=counts.recovered,
        )
        return 1 if failed else code

    async def _procrastinate(self, queue: str) -> None:
        from journeyflow.service.fleet.jobs import HEARTBEAT, STALLED_AFTER

        await self.jobs.app.run_worker_async(
            queues=[queue],
            name=f"{queue}@{self.name}",
            concurrency=1,
            install_signal_handlers=False,  # ours stop everything in order
            update_heartbeat_interval=HEARTBEAT,
            stalled_worker_timeout=STALLED_AFTER,
            shutdown_graceful_timeout=self.settings.grace.total_seconds(),
            fetch_job_polling_interval=self.settings.poll.total_seconds(),
            delete_jobs="always",  # journeyflow's tables say what was done
        )

    async def _start_http(self, listener: socket.socket) -> asyncio.Task[None]:
        assert self.app_factory is not None
        app = self.app_factory(
            inbox=self.inbox,
            store=self.store,
            settings=self.settings,
            on_accepted=self.feeder.nudge,
            ready=self.ready,
        )
        self._server = server = _QuietServer(server_config(app, self.settings))
        task = asyncio.create_task(server.serve(sockets=[listener]))
        while not server.started:
            if task.done():
                raise JourneyflowError(
                    f"the HTTP listener did not start on {self.settings.host}:"
                    f"{self.settings.port}: {_error(task)}"
                )
            await asyncio.sleep(0.02)
        return task

    @property
    def url(self) -> str | None:
        return server_url(self._server)

    async def _shut_down(
        self, tasks: dict[str, asyncio.Task[None]], delivery: threading.Thread | None
    ) -> int:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.grace.total_seconds()
        self._stopping.set()
        if self._server is not None:
            await asyncio.sleep(self.settings.unready_for.total_seconds())
            self._server.should_exit = True  # closes the listener, finishes open requests
            await _wait(tasks.pop("http"), deadline - loop.time())
        tasks.pop("feeder").cancel()
        # cancelling run_worker_async is procrastinate's graceful stop: no new
        # job is fetched, the running ones finish within shutdown_graceful_timeout
        for name in ("apply", "clock"):
            tasks[name].cancel()
        finished = [await _wait(tasks[name], deadline - loop.time()) for name in ("apply", "clock")]
        if delivery is not None:
            await asyncio.to_thread(delivery.join, max(0.0, deadline - loop.time()))
            finished.append(not delivery.is_alive())
        if not all(finished):
            log.warning("grace period over before the worker's parts finished")
            return 1
        return 0

    def _delivery_loop(self) -> None:
        """Deliver due effects until stopping; between empty runs, wait `poll`."""
        poll = self.settings.poll.total_seconds()
        # one Deliverer for the worker's life: its circuit breakers remember a
        # failing channel from one run to the next
        deliverer = Deliverer(
            self.store, self.registry, clock=SystemClock(), max_attempts=self.settings.max_attempts
        )
        while not self._stopping.is_set():
            try:
                report = deliverer.run(limit=50)  # a short run: a stop waits for one run at most
            except Exception:
                log.exception("delivery failed; trying again shortly")
                self._stopping.wait(min(5.0, 2 * poll))
                continue
            count_delivery(report)
            if report.attempted == 0:
                metrics.OUTBOX_DEPTH.set(self.store.pending_effects_count())
                self._stopping.wait(poll)


class _QuietServer(uvicorn.Server):
    """uvicorn without signal handlers of its own: the worker's stop them all, in order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def _wait(task: asyncio.Task[None], timeout: float) -> bool:
    """Wait for a task (cancelled or not) up to `timeout`; whether it ended."""
    try:
        await asyncio.wait_for(asyncio.shield(task), max(0.0, timeout))
    except (TimeoutError, asyncio.CancelledError):
        pass
    except Exception:
        log.exception("a part of the worker failed while stopping")
    return task.done()


def _error(task: asyncio.Task[Any]) -> str:
    if task.cancelled():
        return "cancelled"
    exc = task.exception()
    return f"{type(exc).__name__}: {exc}" if exc else "ended"
