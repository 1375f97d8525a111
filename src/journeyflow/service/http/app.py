"""The HTTP app `journeyflow run` serves: Segment-compatible ingest, health
and metrics (Starlette, an ASGI app; uvicorn serves it).

| path | method | what |
|---|---|---|
| `/v1/batch` | POST | a batch of calls, as the Segment and RudderStack clients send |
| `/v1/track`, `/v1/identify`, `/v1/page`, ... | POST | one call; the path gives its type |
| `/livez` | GET | `200` while the process runs |
| `/readyz` | GET | `200` when `ready()` says so and the database answers, else `503` |
| `/metrics` | GET | the Prometheus metrics |

A request goes: the write key from HTTP Basic auth (a wrong one is `401`
before the body is read), the body read within its cap (`body.py`), then in
a worker thread (at most `workers` at once) — the blocking part — gunzipped,
read as JSON (`payload.py`), the body's `writeKey` checked if the header had
none, and the calls taken (`accept.py`). After the inbox commit, `on_accepted()` wakes the applier.
docs/http-ingest.md is the reference for people.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, Protocol

import anyio
import anyio.to_thread
import prometheus_client
import structlog
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from journeyflow.clock import Clock, SystemClock
from journeyflow.events.limits import DEFAULT_CLOCK_SKEW
from journeyflow.service import metrics
from journeyflow.service.http.accept import UNAVAILABLE, Outcome, Taker
from journeyflow.service.http.auth import WriteKeys, basic_user
from journeyflow.service.http.body import decoded, read_body
from journeyflow.service.http.calls import SINGLE_TYPES, Limits
from journeyflow.service.http.payload import read_payload
from journeyflow.service.http.responses import JsonResponse, Refusal, problem, taken
from journeyflow.store.deadletter import DEFAULT_KEEP
from journeyflow.store.sql.inbox import Inbox

log = structlog.get_logger("journeyflow.service.http")

DEFAULT_MAX_EVENT_BYTES = 32 * 1024
DEFAULT_MAX_REQUEST_BYTES = 4 * 1024 * 1024
DEFAULT_MAX_INBOX = 100_000
DEFAULT_RETRY_AFTER = 5  # seconds
DEFAULT_WORKERS = 4  # requests taken at once (threads)


class IngestSettings(Protocol):
    """What the app reads from `journeyflow run`'s settings, if given them."""

    @property
    def max_event_bytes(self) -> int: ...
    @property
    def max_request_bytes(self) -> int: ...
    @property
    def max_inbox(self) -> int: ...
    @property
    def retry_after(self) -> int: ...
    def keys(self) -> list[str]: ...


def create_app(
    inbox: Inbox,
    *,
    settings: IngestSettings | None = None,
    write_keys: Sequence[str] = (),
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
    max_inbox: int = DEFAULT_MAX_INBOX,
    retry_after: int = DEFAULT_RETRY_AFTER,
    max_clock_skew: timedelta | None = DEFAULT_CLOCK_SKEW,
    keep_rejected: int = DEFAULT_KEEP,
    ready: Callable[[], bool] | None = None,
    on_accepted: Callable[[], None] | None = None,
    clock: Clock | None = None,
    workers: int = DEFAULT_WORKERS,
    store: Any = None,
) -> Starlette:
    """The ingest app over `inbox` (and its store).

    :param settings: `journeyflow run`'s settings: when given, its write keys
        and limits replace the keywords of the same names
    :param write_keys: the keys clients may present (at least one)
    :param max_event_bytes: a larger call is rejected (in a batch) or `413`
    :param max_request_bytes: a larger body, before or after gunzip, is `413`
    :param max_inbox: more events waiting than this and ingest answers `429`
    :param retry_after: seconds a `429` or `503` tells the client to wait
    :param max_clock_skew: how far ahead of our clock an event may be dated
    :param keep_rejected: rows the dead-letter table keeps
    :param ready: whether the service takes events (`/readyz`); by default yes
    :param on_accepted: called on the event loop after events were committed
        (the applier's wake-up); must not block
    :param clock: the clock `receivedAt` is read from (the system's by default)
    :param workers: requests whose calls are read, checked and committed at
        once; the rest wait their turn holding only their raw bodies. Each
        holds up to ~10x its body in parsed JSON, and on SQLite commits are
        one at a time anyway
    :param store: the inbox's store (accepted for the runner's convenience;
        it must be `inbox.store`)
    """
    if store is not None and store is not inbox.store:
        raise ValueError("create_app: store must be the inbox's store")
    if settings is not None:
        write_keys = settings.keys()
        max_event_bytes = settings.max_event_bytes
        max_request_bytes = settings.max_request_bytes
        max_inbox = settings.max_inbox
        retry_after = settings.retry_after
    ingest = Ingest(
        keys=WriteKeys(write_keys),
        taker=Taker(
            inbox=inbox,
            limits=Limits(max_event_bytes=max_event_bytes, max_clock_skew=max_clock_skew),
            max_inbox=max_inbox,
            retry_after=retry_after,
            keep_rejected=keep_rejected,
            now=(clock or SystemClock()).now,
        ),
        max_request_bytes=max_request_bytes,
        on_accepted=on_accepted,
        workers=workers,
    )
    health = Health(inbox, ready)
    routes = [Route("/v1/batch", ingest.batch, methods=["POST"])]
    routes += [Route(f"/v1/{kind}", ingest.single(kind), methods=["POST"]) for kind in SINGLE_TYPES]
    routes += [
        Route("/livez", health.livez, methods=["GET"]),
        Route("/readyz", health.readyz, methods=["GET"]),
        Route("/metrics", health.metrics, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
    )
    app.add_middleware(CountRequests, paths={route.path for route in routes})
    return app


class Ingest:
    """The ingest endpoints."""

    def __init__(
        self,
        keys: WriteKeys,
        taker: Taker,
        max_request_bytes: int,
        on_accepted: Callable[[], None] | None,
        workers: int,
    ) -> None:
        self.keys = keys
        self.taker = taker
        self.max_request_bytes = max_request_bytes
        self.on_accepted = on_accepted
        self.workers = workers
        self._workers: anyio.CapacityLimiter | None = None

    def _limiter(self) -> anyio.CapacityLimiter:
        """Made in the event loop, at the first request (anyio's rule)."""
        if self._workers is None:
            self._workers = anyio.CapacityLimiter(self.workers)
        return self._workers

    async def batch(self, request: Request) -> Response:
        return await self.handle(request, None)

    def single(self, kind: str) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            return await self.handle(request, kind)

        endpoint.__name__ = f"ingest_{kind}"
        return endpoint

    async def handle(self, request: Request, path_type: str | None) -> Response:
        try:
            user = basic_user(request.headers.get("authorization"))
            if user is not None and user not in self.keys:
                raise _unauthorized()
            body = await read_body(request, self.max_request_bytes)
            encoding = request.headers.get("content-encoding")
            work = functools.partial(
                self._take, body, encoding, path_type, key_checked=user is not None
            )
            outcome = await anyio.to_thread.run_sync(work, limiter=self._limiter())
        except Refusal as refusal:
            return refusal.response()
        if outcome.accepted and self.on_accepted is not None:
            self.on_accepted()
        if path_type is not None and outcome.rejected:  # one call, refused: say so
            invalid = outcome.rejected[0][1]
            status = 413 if invalid.kind == "too-big" else 400
            return problem(status, str(invalid.kind), invalid.reason)
        rejected = [{"index": i, "reason": invalid.reason} for i, invalid in outcome.rejected]
        return taken(outcome.accepted, outcome.duplicates, rejected)

    def _take(
        self, body: bytes, encoding: str | None, path_type: str | None, *, key_checked: bool
    ) -> Outcome:
        """The blocking part, in a worker thread."""
        try:
            plain = decoded(body, encoding, self.max_request_bytes)
            payload = read_payload(plain, path_type, self.taker.now())
        except Refusal:
            if not key_checked:  # no key could be read: the sender learns nothing more
                raise _unauthorized() from None
            raise
        if not key_checked and payload.write_key not in self.keys:
            raise _unauthorized()
        return self.taker.take(payload.calls, payload.envelope)


def _unauthorized() -> Refusal:
    return Refusal(
        401,
        "unauthorized",
        "a valid write key is required: as the HTTP Basic user, or the body's writeKey",
    )


class Health:
    """`/livez`, `/readyz`, `/metrics`."""

    def __init__(self, inbox: Inbox, ready: Callable[[], bool] | None) -> None:
        self.inbox = inbox
        self.ready = ready

    async def livez(self, request: Request) -> Response:
        return JsonResponse({"live": True})

    async def readyz(self, request: Request) -> Response:
        if self.ready is not None and not self.ready():
            return problem(503, "not-ready", "not taking events: starting, stopping or unhealthy")
        try:
            await run_in_threadpool(self._ask_database)
        except UNAVAILABLE as exc:
            return problem(
                503, "unavailable", f"the database is not answering ({type(exc).__name__})"
            )
        return JsonResponse({"ready": True})

    def _ask_database(self) -> None:
        with self.inbox.store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    async def metrics(self, request: Request) -> Response:
        return Response(
            prometheus_client.generate_latest(),
            media_type=prometheus_client.CONTENT_TYPE_LATEST,
        )


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (404, 405) as JSON too."""
    assert isinstance(exc, HTTPException)
    codes = {404: "not-found", 405: "method-not-allowed"}
    return problem(
        exc.status_code,
        codes.get(exc.status_code, "http-error"),
        str(exc.detail),
        headers=exc.headers,
    )


async def _server_error(request: Request, exc: Exception) -> Response:
    log.error("request failed", path=request.url.path, error=type(exc).__name__)
    return problem(500, "internal-error", "the server failed to handle the request")


class CountRequests:
    """Counts every answer by path and status (`journeyflow_http_requests_total`);
    a path that is not the app's counts as `other`, so labels stay few."""

    def __init__(self, app: ASGIApp, paths: set[str]) -> None:
        self.app = app
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"] if scope["path"] in self.paths else "other"

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                metrics.HTTP_REQUESTS.labels(path=path, status=str(message["status"])).inc()
            await send(message)

        await self.app(scope, receive, counted)
