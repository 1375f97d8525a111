"""The webhook channel against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from journeyflow_webhook import ConfigError, WebhookConfig, make_channel, payload, sign, verify

from journeyflow import (
    Channel,
    Effect,
    MemoryStore,
    Registry,
    VirtualClock,
    build_manager,
    dispatch,
)
from journeyflow.delivery import SentKeys
from journeyflow.testing.conformance import ChannelConformance, LocalHTTPServer, make_effect

SECRET = "s3cret"


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as s:
        yield s


class Harness:
    modes = LocalHTTPServer.modes

    def __init__(self, server: LocalHTTPServer, tmp: Path) -> None:
        self.server = server
        self.keys = tmp / "sent.sqlite3"

    def channel(self, *, timeout: float) -> Channel:
        return make_channel(
            WebhookConfig(f"{self.server.url}/hook", SECRET, timeout),
            SentKeys(self.keys, "webhook"),
        )

    def effect(self, key: str) -> Effect:
        return make_effect(key, "webhook", data={"coupon": "GIFT10"})

    def deliveries(self, key: str) -> int:
        return self.server.accepted(key)

    def set_mode(self, mode: str | None) -> None:
        self.server.set_mode(mode)


class TestWebhookConformance(ChannelConformance):
    @pytest.fixture
    def harness(self, server: LocalHTTPServer, tmp_path: Path) -> Harness:
        return Harness(server, tmp_path)


def test_request_is_signed_json_with_idempotency_key(
    server: LocalHTTPServer, tmp_path: Path
) -> None:
    channel = Harness(server, tmp_path).channel(timeout=5)
    effect = make_effect("k-signed", "webhook", data={"coupon": "GIFT10"})
    assert channel.deliver(effect).status == "sent"
    [request] = server.requests
    headers, body = request["headers"], request["body"]
    assert request["path"] == "/hook"
    assert headers["content-type"] == "application/json"
    assert headers["idempotency-key"] == "k-signed"
    assert headers["x-journeyflow-signature"] == sign(
        SECRET, headers["x-journeyflow-timestamp"], body
    )
    assert verify(
        SECRET, body, headers["x-journeyflow-timestamp"], headers["x-journeyflow-signature"]
    )
    sent = json.loads(body)
    assert sent["key"] == "k-signed" and sent["data"] == {"coupon": "GIFT10"}
    assert sent["journey"] == "conformance" and sent["template"] == "welcome"


def test_verify_refuses_tampering_and_replays() -> None:
    body = payload(make_effect("k", "webhook"))
    signature = sign(SECRET, "1000", body)
    assert verify(SECRET, body, "1000", signature, now=1100)
    assert not verify(SECRET, body + b" ", "1000", signature, now=1100)
    assert not verify("other", body, "1000", signature, now=1100)
    assert not verify(SECRET, body, "1000", signature, now=1000 + 301)  # replayed later
    assert not verify(SECRET, body, "soon", signature, now=1000)


def test_url_from_effect_data_overrides_the_default(
    server: LocalHTTPServer, tmp_path: Path
) -> None:
    channel = make_channel(
        WebhookConfig("http://127.0.0.1:9/never", SECRET, 5),
        SentKeys(tmp_path / "k.sqlite3", "webhook"),
    )
    effect = make_effect("k-url", "webhook", data={"url": f"{server.url}/other", "x": 1})
    assert channel.deliver(effect).status == "sent"
    assert server.requests[0]["path"] == "/other"
    assert "url" not in json.loads(server.requests[0]["body"])["data"]


def test_a_busy_receiver_is_retried_after_its_retry_after(
    server: LocalHTTPServer, tmp_path: Path
) -> None:
    """Through the dispatcher: the shared HTTP classification reads the 503's
    Retry-After, and the outbox waits that long (longer than the backoff)."""
    registry = Registry.from_manager(build_manager(entry_points=False, disabled=()))
    registry.channels["webhook"] = Harness(server, tmp_path).channel(timeout=5)
    store = MemoryStore()
    store.effects["k-busy"] = make_effect("k-busy", "webhook")
    now = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
    server.answer(503, {"Retry-After": "900"})
    assert dispatch(store, registry, clock=VirtualClock(now)).retrying == 1
    [busy] = store.get_effects()
    assert busy.next_attempt_at == now + timedelta(seconds=900)
    assert busy.last_error == "HTTP 503 Service Unavailable (Retry-After: 900)"
    server.answer(None)
    later = VirtualClock(now + timedelta(seconds=900))
    assert dispatch(store, registry, clock=later).sent == 1
    assert server.accepted("k-busy") == 1


def test_connection_refused_is_temporary(tmp_path: Path) -> None:
    with LocalHTTPServer() as s:
        url = s.url  # a port that was free a moment ago, now closed
    channel = make_channel(WebhookConfig(url, SECRET, 2), SentKeys(None, "webhook"))
    assert channel.deliver(make_effect("k", "webhook")).status == "temporary_failure"


def test_missing_configuration_is_explained() -> None:
    channel = make_channel(WebhookConfig(None, SECRET), SentKeys(None, "webhook"))
    delivery = channel.deliver(make_effect("k", "webhook"))
    assert delivery.status == "temporary_failure"
    assert "JOURNEYFLOW_WEBHOOK_URL" in (delivery.detail or "")
    unsigned = make_channel(WebhookConfig("http://127.0.0.1:9", None), SentKeys(None, "w"))
    assert "JOURNEYFLOW_WEBHOOK_SECRET" in (unsigned.deliver(make_effect("k", "w")).detail or "")


def test_a_bad_configured_url_is_refused_when_the_config_is_made() -> None:
    with pytest.raises(ConfigError, match="JOURNEYFLOW_WEBHOOK_URL must be an http"):
        WebhookConfig("ftp:/nope", SECRET)


def test_registered_through_the_hook() -> None:
    import journeyflow_webhook

    pm = build_manager(entry_points=False)
    pm.register(journeyflow_webhook, name="webhook")
    registry = Registry.from_manager(pm)
    assert registry.channels["webhook"].timeout == 10.0
    assert registry.owner("journeyflow_channels", "webhook") == "webhook"
