"""One `journeyflow run` process: the HTTP ingest and the engine's loops.

Three threads and the main one:

* **http**: uvicorn serving the ingest app; each accepted batch is committed
  to the inbox, then wakes the engine thread;
* **engine**: the only thread that moves customers. It applies the inbox a
  batch at a time, fires the timers that are due, recomputes segments when
  their cadence comes round — then sleeps until the earliest of the next
  timer's due time, the next segment run and `poll`, or until woken by new
  work. One thread, so one customer's events and timers never race;
* **delivery**: hands the outbox's due effects to the channels, woken when
  the engine has committed new effects, so a slow or broken channel never
  holds up the journeys;
* **main**: waits for SIGTERM or SIGINT, then stops in order: `/readyz`
  answers 503 (for `unready_for`, so a load balancer stops sending), the
  listener closes, the engine thread applies everything accepted, delivery
  finishes its in-flight send; exit 0, within `grace`.

Everything durable is in the store: a process killed at any point loses
nothing accepted (the inbox is committed before the 200) and does nothing
twice (messageIds, effect keys and leases), so a restart simply goes on.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import FrameType
from typing import Any

import structlog
import uvicorn

from journeyflow.clock import SystemClock
from journeyflow.delivery.outbox import Deliverer, DispatchReport
from journeyflow.exceptions import JourneyflowError
from journeyflow.plugin.registry import Registry
from journeyflow.runtime.engine import Engine
from journeyflow.runtime.segments import SegmentSchedule
from journeyflow.runtime.semantics import Notification
from journeyflow.service import metrics
from journeyflow.service.applier import apply_inbox
from journeyflow.service.serving import count_delivery, listen, server_config, server_url
from journeyflow.service.settings import RunSettings
from journeyflow.store.sql import SqlStore
from journeyflow.store.sql.inbox import Inbox

__all__ = ["Service", "count_notification"]

log = structlog.get_logger("journeyflow.service.runner")

LINGER_S = 0.05  # after a partial batch, the engine waits this long for more events
DEPTH_EVERY_S = 1.0  # the inbox-depth gauge is recounted at most this often
AppFactory = Callable[..., Any]  # builds the ASGI app (service.http.create_app)


def count_notification(note: Notification) -> None:
    """An engine listener: transitions and timer firings into the metrics,
    with how late each timer fired (its transition is dated its due time)."""
    history = note.history
    if note.kind != "transition" or history is None:
        return
    metrics.TRANSITIONS.labels(journey=history.journey).inc()
    if history.cause.startswith("timer"):
        metrics.TIMERS_FIRED.labels(journey=history.journey).inc()
        due = history.at if history.at.tzinfo else history.at.replace(tzinfo=timezone.utc)
        late = (datetime.now(timezone.utc) - due).total_seconds()
        metrics.TIMER_LATENESS.observe(max(0.0, late))


@dataclass
class Counts:
    """What this process did, for the log line at exit."""

    applied: int = 0
    duplicates: int = 0
    timers: int = 0
    segment_runs: int = 0
    delivery: dict[str, int] = field(default_factory=dict)


class Service:
    """The loops of one process, over a SQL store (SQLite or PostgreSQL).

    :param app_factory: `create_app`-style callable taking the inbox, the store,
        the settings, an `on_accepted` wake-up and a `ready` callable
    """

    def __init__(
        self,
        settings: RunSettings,
        engine: Engine,
        registry: Registry,
        store: SqlStore,
        app_factory: AppFactory | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.registry = registry
        self.store = store
        self.inbox = Inbox(store, shards=settings.shards)
        self.app_factory = app_factory
        self.counts = Counts()
        self._wake_engine = threading.Event()
        self._wake_delivery = threading.Event()
        self._stop = threading.Event()  # a signal came: stop taking work
        self._draining = threading.Event()  # the listener is closed: apply what is left, then end
        self._ready = False
        self._unhealthy: set[str] = set()  # loops whose last step failed
        self._last_taken = 0  # inbox rows the engine's last pass took
        self._next_depth_count = 0.0  # monotonic time the inbox depth is next counted
        self._server: uvicorn.Server | None = None
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._failure: BaseException | None = None
        self.schedule: SegmentSchedule | None = None
        if settings.segments_every is not None and registry.segmenters:
            self.schedule = SegmentSchedule(engine, registry.segmenters, settings.segments_every)
        engine.listeners.append(count_notification)

    # --- what the HTTP app calls ---------------------------------------------

    def ready(self) -> bool:
        return self._ready and not self._stop.is_set() and not self._unhealthy

    def on_accepted(self) -> None:
        self._wake_engine.set()

    # --- life ----------------------------------------------------------------

    def serve(self, *, handle_signals: bool = True) -> int:
        """Run until a signal (or `stop()`), then drain; the exit code.

        :raises JourneyflowError: the address cannot be listened on (one line,
            before any work starts)
        """
        if self.settings.http and self.app_factory is not None:
            self._listener = listen(self.settings.host, self.settings.port)
        if handle_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, self._on_signal)
        self._start("engine", self._engine_loop)
        if self.settings.deliver:
            self._start("delivery", self._delivery_loop)
        if self.settings.http and self.app_factory is not None:
            self._start_http()
        self._ready = True
        log.info("journeyflow run ready", url=self.url)
        while not self._stop.wait(0.2):
            if self._failure is not None:
                break
        return self._shut_down()

    def stop(self) -> None:
        """Begin the graceful stop (what SIGTERM does)."""
        self._stop.set()

    @property
    def url(self) -> str | None:
        return server_url(self._server)

    def _on_signal(self, sig: int, _frame: FrameType | None) -> None:
        if self._stop.is_set() and sig == signal.SIGINT:
            log.warning("second interrupt: stopping without draining")
            raise SystemExit(1)
        log.info("stopping", signal=signal.Signals(sig).name)
        self._stop.set()

    def _start(self, name: str, target: Callable[[], None]) -> None:
        def guarded() -> None:
            try:
                target()
            except BaseException as exc:  # a loop that dies takes the process down, loudly
                log.exception("loop failed", loop=name)
                self._failure = exc
                self._stop.set()

        thread = threading.Thread(target=guarded, name=f"journeyflow-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _start_http(self) -> None:
        assert self.app_factory is not None
        app = self.app_factory(
            inbox=self.inbox,
            store=self.store,
            settings=self.settings,
            on_accepted=self.on_accepted,
            ready=self.ready,
        )
        server = self._server = uvicorn.Server(server_config(app, self.settings))
        assert self._listener is not None  # bound by `serve`
        sockets = [self._listener]
        # off the main thread: no signal handlers of its own
        self._start("http", lambda: server.run(sockets=sockets))
        deadline = time.monotonic() + 30
        while not self._server.started:
            if self._failure is not None or time.monotonic() > deadline:
                raise JourneyflowError(
                    f"the HTTP listener did not start on {self.url or self.settings.port}"
                )
            time.sleep(0.02)

    def _shut_down(self) -> int:
        deadline = time.monotonic() + self.settings.grace.total_seconds()
        self._ready = False
        if self._server is not None:
            time.sleep(self.settings.unready_for.total_seconds())
            self._server.should_exit = True  # closes the listener, finishes open requests
        for thread in self._threads:
            if thread.name == "journeyflow-http":
                thread.join(max(0.0, deadline - time.monotonic()))
        self._draining.set()
        self._wake_engine.set()
        self._wake_delivery.set()
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        waiting = self._safe(self.inbox.depth, -1)
        log.info(
            "journeyflow run stopped",
            applied=self.counts.applied,
            duplicates=self.counts.duplicates,
            timers=self.counts.timers,
            still_running=alive,
            inbox=waiting,
        )
        if self._failure is not None:
            return 1
        if alive or waiting > 0:
            log.warning("grace period over before the inbox was drained", inbox=waiting)
            return 1
        return 0

    # --- the engine thread -----------------------------------------------------

    def _engine_loop(self) -> None:
        while True:
            worked = self._guarded("engine", self._engine_step)
            if self._draining.is_set() and self._safe(self.inbox.depth, 0) == 0:
                return
            if not worked:
                self._wake_engine.wait(self._sleep_for())
                self._wake_engine.clear()
            elif self._last_taken < self.settings.batch_size and not self._draining.is_set():
                # a partial batch: clients send ~100 events a request, and a unit
                # of work costs less per event the more it holds (`ingest` takes
                # 1,000); let the next few requests land before taking again
                time.sleep(LINGER_S)

    def _engine_step(self) -> bool:
        """One pass: a batch of the inbox, the due timers, a segment run if due.
        True when it did something (so the loop goes round again at once)."""
        batch = apply_inbox(self.engine, self.inbox, limit=self.settings.batch_size)
        self._last_taken = batch.taken
        self.counts.applied += batch.applied
        self.counts.duplicates += batch.duplicates
        fired = self.engine.run_due()
        self.counts.timers += fired
        ran = False
        if self.schedule is not None and not self._draining.is_set():
            result = self.schedule.tick(self.engine.clock.now())
            if result is not None:  # `recompute` logs what changed
                self.counts.segment_runs += 1
                ran = True
        if time.monotonic() >= self._next_depth_count:  # a count(*): not every pass
            metrics.INBOX_DEPTH.set(self.inbox.depth())
            self._next_depth_count = time.monotonic() + DEPTH_EVERY_S
        if batch.applied or fired:
            self._wake_delivery.set()  # new effects may be waiting
        return not batch.empty or ran

    def _sleep_for(self) -> float:
        """Seconds until the next thing is due, at most `poll`."""
        now = datetime.now(timezone.utc)
        wait = self.settings.poll.total_seconds()
        due = self.store.next_due_at()
        if due is not None:
            wait = min(wait, (due - now).total_seconds())
        if self.schedule is not None and self.schedule.next_at is not None:
            wait = min(wait, (self.schedule.next_at - now).total_seconds())
        return max(0.0, wait)

    # --- the delivery thread ---------------------------------------------------

    def _delivery_loop(self) -> None:
        # one Deliverer for the process's life: its circuit breakers remember
        # a failing channel from one run to the next
        deliverer = Deliverer(
            self.store, self.registry, clock=SystemClock(), max_attempts=self.settings.max_attempts
        )
        while not self._draining.is_set():
            if self._guarded("delivery", lambda: self._deliver_once(deliverer)):
                continue
            self._wake_delivery.wait(self.settings.poll.total_seconds())
            self._wake_delivery.clear()

    def _deliver_once(self, deliverer: Deliverer) -> bool:
        report = deliverer.run()
        self._count_delivery(report)
        metrics.OUTBOX_DEPTH.set(self.store.pending_effects_count())
        return report.attempted > 0

    def _count_delivery(self, report: DispatchReport) -> None:
        count_delivery(report)
        for _channel, outcome, n in report.counts():
            self.counts.delivery[outcome] = self.counts.delivery.get(outcome, 0) + n

    def _guarded(self, loop: str, step: Callable[[], bool]) -> bool:
        """Run one step of a loop; a failure (the database gone for a moment, a
        bug) is logged, `/readyz` turns 503 until a step succeeds again, and
        the loop waits a little before it tries again instead of dying."""
        try:
            worked = step()
        except Exception:
            log.exception("step failed; trying again shortly", loop=loop)
            self._unhealthy.add(loop)
            time.sleep(min(5.0, 2 * self.settings.poll.total_seconds()))
            return False
        self._unhealthy.discard(loop)
        return worked

    @staticmethod
    def _safe(read: Callable[[], int], default: int) -> int:
        try:
            return read()
        except Exception:
            return default
