"""A real uvicorn server on a loopback port, in a thread, for the ingest
tests; and an ASGI wrapper that answers 503 to the first requests, before or
after the app has committed them (a client's retries, and a lost answer)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send


@contextmanager
def serving(app: ASGIApp) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 (any free port) while the block runs; its URL."""
    # proto given: asyncio sets TCP_NODELAY on accepted connections only for
    # IPPROTO_TCP sockets (without it, each answer waits ~40 ms on a delayed ACK)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


class FailFirst:
    """Answers `503` (with `Retry-After`) to the first `count` POSTs.

    :param when: "before": the app never sees them (the database was away);
        "after": the app takes them (and commits) but its answer is replaced,
        as when an answer is lost on its way back
    """

    def __init__(
        self,
        app: ASGIApp,
        count: int,
        when: Literal["before", "after"],
        retry_after: int | None = 1,
    ) -> None:
        self.app = app
        self.left = count
        self.when = when
        self.retry_after = retry_after
        self.failed = 0
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        with self._lock:
            failing = self.left > 0
            if failing:
                self.left -= 1
        if not failing:
            await self.app(scope, receive, send)
            return
        if self.when == "before":
            while (await receive()).get("more_body"):
                pass
        else:

            async def swallowed(message: Message) -> None:
                pass

            await self.app(scope, receive, swallowed)
        headers = [(b"content-type", b"application/json")]
        if self.retry_after is not None:
            headers.append((b"retry-after", str(self.retry_after).encode()))
        body = b'{"code":"unavailable","message":"test outage"}'
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        with self._lock:
            self.failed += 1


class CountStatuses:
    """Counts the statuses the app answered, for a test to wait on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: dict[int, int] = {}
        self._lock = threading.Lock()

    def count(self, status: int) -> int:
        with self._lock:
            return self.seen.get(status, 0)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                with self._lock:
                    self.seen[message["status"]] = self.seen.get(message["status"], 0) + 1
            await send(message)

        await self.app(scope, receive, counted)
