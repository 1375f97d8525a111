"""The HTTP kit channel plugins share (`journeyflow.delivery.http`): one
classification of answers, `Retry-After`, and `post` against a real HTTP
server on 127.0.0.1; and the dispatcher honouring a receiver's Retry-After."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from journeyflow.clock import VirtualClock
from journeyflow.delivery import HttpAnswer, classify_http, parse_retry_after, post
from journeyflow.delivery.outbox import BACKOFF_CAP, backoff, dispatch
from journeyflow.plugin.manager import build_manager
from journeyflow.plugin.markers import hookimpl
from journeyflow.plugin.registry import Registry
from journeyflow.store import MemoryStore
from journeyflow.testing.conformance import LocalHTTPServer, make_effect
from journeyflow.types import Channel, Delivery, Effect
from tests.helpers import at

NOW = at("2026-03-01T12:00:00Z")


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as s:
        yield s


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, "sent"),
        (201, "sent"),
        (204, "sent"),
        (301, "permanent_failure"),
        (307, "permanent_failure"),
        (400, "permanent_failure"),
        (401, "permanent_failure"),
        (403, "permanent_failure"),
        (404, "permanent_failure"),
        (408, "temporary_failure"),
        (409, "permanent_failure"),
        (422, "permanent_failure"),
        (429, "temporary_failure"),
        (500, "temporary_failure"),
        (502, "temporary_failure"),
        (503, "temporary_failure"),
    ],
)
def test_status_classification(status: int, expected: str) -> None:
    assert classify_http(status).status == expected


def test_auth_failures_are_temporary_with_a_hint_when_the_channel_gives_one() -> None:
    hinted = classify_http(401, "Unauthorized", auth_hint="check PIGEON_TOKEN")
    assert hinted == Delivery.retry("HTTP 401 Unauthorized: check PIGEON_TOKEN")
    assert classify_http(403, "Forbidden") == Delivery.give_up("HTTP 403 Forbidden")


def test_redirects_are_permanent_and_say_why() -> None:
    assert classify_http(302, "Found").detail == (
        "HTTP 302 Found: the URL redirects; configure the final URL"
    )


def test_retry_after_in_seconds_and_as_a_date() -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("120") == timedelta(seconds=120)
    assert parse_retry_after(" 5 ") == timedelta(seconds=5)
    later = format_datetime(now + timedelta(minutes=10), usegmt=True)
    assert parse_retry_after(later, now=now) == timedelta(minutes=10)
    for useless in (None, "", "0", "soon", "-5", format_datetime(now - timedelta(1), usegmt=True)):
        assert parse_retry_after(useless, now=now) is None, useless


def test_retry_after_only_on_temporary_answers() -> None:
    busy = classify_http(429, "Too Many Requests", retry_after="90")
    assert busy.status == "temporary_failure"
    assert busy.retry_after == timedelta(seconds=90)
    assert busy.detail == "HTTP 429 Too Many Requests (Retry-After: 90)"
    assert classify_http(503, retry_after="nonsense").retry_after is None
    assert classify_http(400, retry_after="90").retry_after is None


# --- post, against a real server ---------------------------------------------------------


def test_post_sends_the_body_and_headers_and_returns_the_answer(server: LocalHTTPServer) -> None:
    answer = post(
        f"{server.url}/in",
        b'{"x": 1}',
        {"Content-Type": "application/json", "Idempotency-Key": "k1"},
        timeout=5,
    )
    assert answer == HttpAnswer(Delivery.sent("HTTP 200 OK"), b'{"id": "msg-1"}')
    [request] = server.requests
    assert (request["path"], request["body"]) == ("/in", b'{"x": 1}')
    assert request["headers"]["idempotency-key"] == "k1"


def test_post_reads_retry_after_from_a_real_answer(server: LocalHTTPServer) -> None:
    server.answer(429, {"Retry-After": "120"})
    delivery = post(server.url, b"{}", {}, timeout=5).delivery
    assert delivery.status == "temporary_failure"
    assert delivery.retry_after == timedelta(seconds=120)


def test_post_does_not_follow_redirects(server: LocalHTTPServer) -> None:
    server.answer(301, {"Location": f"{server.url}/elsewhere"})
    delivery = post(f"{server.url}/old", b"{}", {}, timeout=5).delivery
    assert delivery.status == "permanent_failure" and "redirects" in (delivery.detail or "")
    assert [r["path"] for r in server.requests] == ["/old"]


def test_post_passes_the_auth_hint(server: LocalHTTPServer) -> None:
    server.answer(401)
    assert post(server.url, b"", {}, timeout=5).delivery.status == "permanent_failure"
    hinted = post(server.url, b"", {}, timeout=5, auth_hint="check TOKEN").delivery
    assert (
        hinted.status == "temporary_failure"
        and hinted.detail == "HTTP 401 Unauthorized: check TOKEN"
    )


def test_post_never_raises_for_network_trouble() -> None:
    with LocalHTTPServer() as gone:
        url = gone.url  # a port that was free a moment ago, now closed
    assert post(url, b"", {}, timeout=2).delivery.status == "temporary_failure"
    for bad in ("ftp://example.com/x", "example.com/x", "http://[::1"):
        delivery = post(bad, b"", {}, timeout=2).delivery
        assert delivery.status == "permanent_failure", bad
        assert (delivery.detail or "").startswith(f"bad URL {bad!r}")


def test_post_times_out_as_a_temporary_failure(server: LocalHTTPServer) -> None:
    server.set_mode("hang")
    delivery = post(server.url, b"", {}, timeout=0.3).delivery
    assert delivery.status == "temporary_failure"


# --- the dispatcher honours Retry-After ----------------------------------------------------


def _registry(answer: Delivery) -> Registry:
    class Plugin:
        @hookimpl
        def journeyflow_channels(self) -> list[Channel]:
            return [Channel("pigeon", deliver=lambda effect: answer)]

    pm = build_manager(entry_points=False, disabled=())
    pm.register(Plugin(), name="pigeons")
    return Registry.from_manager(pm)


@pytest.mark.parametrize(
    ("retry_after", "wait"),
    [
        (None, backoff(1)),  # the backoff alone
        (timedelta(seconds=10), backoff(1)),  # shorter than the backoff: the backoff
        (timedelta(minutes=30), timedelta(minutes=30)),  # longer: as asked
        (timedelta(days=3), BACKOFF_CAP),  # never longer than the cap
    ],
)
def test_the_next_attempt_waits_for_retry_after(
    retry_after: timedelta | None, wait: timedelta
) -> None:
    store = MemoryStore()
    effect: Effect = make_effect("k", "pigeon")
    store.effects[effect.key] = effect
    answer = Delivery.retry("busy", after=retry_after)
    # the backoff's ceiling, without jitter, so the wait is exact
    report = dispatch(store, _registry(answer), clock=VirtualClock(NOW), delay=backoff)
    assert report.retrying == 1
    [stored] = store.get_effects()
    assert stored.next_attempt_at == NOW + wait
