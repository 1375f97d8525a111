"""The channel conformance suite: what every channel must do, checked against
the channel's own backend (a local test server).

A channel passes when it

- delivers a well-formed effect (one real delivery, `Delivery.sent`);
- is idempotent on `effect.key`: delivering the same effect again, with the
  same channel or a fresh one (a restarted process), makes no second delivery;
- reports a backend's temporary refusal as `temporary_failure` and a
  permanent one as `permanent_failure`, without raising, and a temporary
  failure does not count as delivered (the retry goes through);
- honours its timeout: against a backend that hangs it returns a
  `temporary_failure` within `timeout + slack` seconds.

A channel's tests describe its backend with a `ChannelHarness` and either
call `run_channel_conformance(harness)` or subclass `ChannelConformance`
(pytest collects its `test_*` methods) with a `harness` fixture::

    class TestPigeonConformance(ChannelConformance):
        @pytest.fixture
        def harness(self, pigeon_server, tmp_path):
            return PigeonHarness(pigeon_server, tmp_path)

This module does not import pytest; the class skips a check whose failure
mode the harness cannot simulate (`harness.modes`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from journeyflow.types import Channel, Delivery, Effect

__all__ = [
    "CHECKS",
    "ChannelConformance",
    "ChannelHarness",
    "LocalHTTPServer",
    "check_delivers",
    "check_idempotent",
    "check_permanent_failure",
    "check_temporary_failure",
    "check_timeout",
    "make_effect",
    "run_channel_conformance",
]

TIMEOUT = 0.5  # the timeout given to the channel in the timeout check, seconds
SLACK = 2.0  # how far past its timeout a channel may answer


class ChannelHarness(Protocol):
    """A channel and the backend it talks to, driven by the checks."""

    #: the failure modes the backend can simulate: "temporary", "permanent", "hang"
    modes: frozenset[str]

    def channel(self, *, timeout: float) -> Channel:
        """A new channel instance on the backend. Instances must share their
        idempotency record, as two processes of one deployment would."""
        ...

    def effect(self, key: str) -> Effect:
        """A deliverable effect with this key (recipient, URL... in `data`)."""
        ...

    def deliveries(self, key: str) -> int:
        """How many times the backend accepted a delivery of this effect key."""
        ...

    def set_mode(self, mode: str | None) -> None:
        """From now on the backend answers normally (None) or with one of `modes`."""
        ...


def make_effect(
    key: str,
    channel: str,
    *,
    template: str | None = "welcome",
    data: dict[str, object] | None = None,
    customer_id: str = "c-1",
) -> Effect:
    """An effect as the engine would queue it, for harnesses to build on."""
    return Effect(
        key=key,
        channel=channel,
        customer_id=customer_id,
        journey="conformance",
        version=1,
        enrolment_id=f"conformance:{customer_id}:1",
        created_at=datetime(2026, 1, 1, 10, 0, tzinfo=UTC),
        template=template,
        data=dict(data or {}),
    )


def _expect(delivery: object, status: str, what: str) -> None:
    if not isinstance(delivery, Delivery):
        raise AssertionError(f"{what}: deliver returned {delivery!r}, not a Delivery")
    if delivery.status != status:
        raise AssertionError(
            f"{what}: expected {status}, got {delivery.status} ({delivery.detail})"
        )


def _count(harness: ChannelHarness, key: str, expected: int, what: str) -> None:
    seen = harness.deliveries(key)
    if seen != expected:
        raise AssertionError(
            f"{what}: the backend received {seen} deliveries of {key!r}, expected {expected}"
        )


def check_delivers(harness: ChannelHarness) -> None:
    """A well-formed effect is delivered once and reported `sent`."""
    harness.set_mode(None)
    channel = harness.channel(timeout=5.0)
    _expect(channel.deliver(harness.effect("conf-delivers")), "sent", "first delivery")
    _count(harness, "conf-delivers", 1, "first delivery")


def check_idempotent(harness: ChannelHarness) -> None:
    """Delivering one effect twice, and again from a fresh instance, is one delivery."""
    harness.set_mode(None)
    effect = harness.effect("conf-idempotent")
    channel = harness.channel(timeout=5.0)
    _expect(channel.deliver(effect), "sent", "first delivery")
    _expect(channel.deliver(effect), "sent", "the same effect again")
    _expect(
        harness.channel(timeout=5.0).deliver(effect),
        "sent",
        "the same effect from a fresh channel instance",
    )
    _count(harness, effect.key, 1, "three deliveries of one effect key")


def check_temporary_failure(harness: ChannelHarness) -> None:
    """A temporary refusal is `temporary_failure`, and the retry is delivered."""
    effect = harness.effect("conf-temporary")
    channel = harness.channel(timeout=5.0)
    harness.set_mode("temporary")
    try:
        _expect(channel.deliver(effect), "temporary_failure", "backend refusing for now")
    finally:
        harness.set_mode(None)
    _expect(channel.deliver(effect), "sent", "the retry once the backend is back")
    _count(harness, effect.key, 1, "a failure then a retry")


def check_permanent_failure(harness: ChannelHarness) -> None:
    """A permanent refusal is `permanent_failure` and nothing is delivered."""
    effect = harness.effect("conf-permanent")
    channel = harness.channel(timeout=5.0)
    harness.set_mode("permanent")
    try:
        _expect(channel.deliver(effect), "permanent_failure", "backend refusing for good")
    finally:
        harness.set_mode(None)
    _count(harness, effect.key, 0, "a permanent refusal")


def check_timeout(
    harness: ChannelHarness, *, timeout: float = TIMEOUT, slack: float = SLACK
) -> None:
    """Against a hanging backend: `temporary_failure` within timeout + slack."""
    effect = harness.effect("conf-timeout")
    channel = harness.channel(timeout=timeout)
    harness.set_mode("hang")
    try:
        started = time.monotonic()
        delivery = channel.deliver(effect)
        took = time.monotonic() - started
    finally:
        harness.set_mode(None)
    _expect(delivery, "temporary_failure", "backend that never answers")
    if took > timeout + slack:
        raise AssertionError(
            f"backend that never answers: took {took:.1f}s, more than the "
            f"{timeout:g}s timeout + {slack:g}s"
        )


CHECKS: dict[str, tuple[str | None, Callable[[ChannelHarness], None]]] = {
    "delivers": (None, check_delivers),
    "idempotent": (None, check_idempotent),
    "temporary_failure": ("temporary", check_temporary_failure),
    "permanent_failure": ("permanent", check_permanent_failure),
    "timeout": ("hang", check_timeout),
}


def run_channel_conformance(harness: ChannelHarness) -> dict[str, str]:
    """Run every check the harness supports; returns {check: failure message}
    for the failed ones (empty: the channel conforms)."""
    failures: dict[str, str] = {}
    for name, (mode, check) in CHECKS.items():
        if mode is not None and mode not in harness.modes:
            continue
        try:
            check(harness)
        except AssertionError as exc:
            failures[name] = str(exc)
    return failures


class ChannelConformance:
    """Subclass as `Test<Name>Conformance` with a `harness` fixture; pytest runs
    one test per check. Checks the harness cannot simulate are skipped."""

    def _run(self, harness: ChannelHarness, name: str) -> None:
        mode, check = CHECKS[name]
        if mode is not None and mode not in harness.modes:
            import pytest

            pytest.skip(f"the harness cannot simulate a {mode!r} backend")
        check(harness)

    def test_delivers(self, harness: ChannelHarness) -> None:
        self._run(harness, "delivers")

    def test_idempotent(self, harness: ChannelHarness) -> None:
        self._run(harness, "idempotent")

    def test_temporary_failure(self, harness: ChannelHarness) -> None:
        self._run(harness, "temporary_failure")

    def test_permanent_failure(self, harness: ChannelHarness) -> None:
        self._run(harness, "permanent_failure")

    def test_timeout(self, harness: ChannelHarness) -> None:
        self._run(harness, "timeout")


# --- a local HTTP backend for HTTP channels' harnesses ----------------------------


class LocalHTTPServer:
    """A real HTTP server on 127.0.0.1 (a free port, in a thread) that records
    requests and answers as told: 200 with `{"id": ...}` normally, 503 in mode
    "temporary", 400 in mode "permanent", nothing at all in mode "hang" (until
    the mode changes or the server closes). With `token`, a request without
    `Authorization: Bearer <token>` gets 401. `answer(status, headers)` makes
    every later request get that status and those headers instead (a 429 with
    `Retry-After`, a redirect...), until `answer(None)`. Use it as a context
    manager.
    """

    modes = frozenset({"temporary", "permanent", "hang"})

    def __init__(self, *, token: str | None = None) -> None:
        import threading
        from http.server import ThreadingHTTPServer

        self.token = token
        self.mode: str | None = None
        self.fixed: tuple[int, dict[str, str]] | None = None
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> LocalHTTPServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def set_mode(self, mode: str | None) -> None:
        self.mode = mode
        if mode == "hang":
            self._release.clear()
        else:
            self._release.set()

    def answer(self, status: int | None, headers: dict[str, str] | None = None) -> None:
        """Answer every request with `status` and `headers` (None: as the mode says)."""
        self.fixed = None if status is None else (status, dict(headers or {}))

    def accepted(self, key: str, header: str = "Idempotency-Key") -> int:
        """Requests answered 2xx whose `header` equals `key` (recorded header
        names are lower-cased)."""
        with self._lock:
            return sum(
                1
                for r in self.requests
                if r["headers"].get(header.lower()) == key and 200 <= r["status"] < 300
            )

    def _handler(self) -> type:
        from http.server import BaseHTTPRequestHandler

        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass  # keep test output clean

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                mode = owner.mode
                if mode == "hang":
                    owner._release.wait(30)
                    self.close_connection = True
                    return
                extra: dict[str, str] = {}
                if owner.fixed is not None:
                    status, extra = owner.fixed
                elif (
                    owner.token is not None
                    and self.headers.get("Authorization") != f"Bearer {owner.token}"
                ):
                    status = 401
                else:
                    status = {"temporary": 503, "permanent": 400}.get(mode or "", 200)
                with owner._lock:
                    number = len(owner.requests) + 1
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    owner.requests.append(
                        {
                            "method": "POST",
                            "path": self.path,
                            "headers": headers,
                            "body": body,
                            "status": status,
                        }
                    )
                answer = (b'{"id": "msg-%d"}' % number) if status == 200 else b'{"error": "no"}'
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        return Handler
