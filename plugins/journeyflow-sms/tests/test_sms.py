"""The sms channel against a real provider-style HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from journeyflow_sms import SmsConfig, make_channel

from journeyflow import Channel, Effect
from journeyflow.delivery import SentKeys
from journeyflow.testing.conformance import ChannelConformance, LocalHTTPServer, make_effect

TOKEN = "tok-123"


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer(token=TOKEN) as s:
        yield s


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    folder = tmp_path / "sms"
    folder.mkdir()
    (folder / "welcome.txt").write_text("Hi! Your coupon: {{ coupon }}\n")
    return folder


def config(server: LocalHTTPServer, templates: Path, timeout: float = 5) -> SmsConfig:
    return SmsConfig(f"{server.url}/v1", TOKEN, "Salon", templates, timeout)


class Harness:
    modes = LocalHTTPServer.modes

    def __init__(self, server: LocalHTTPServer, templates: Path, tmp: Path) -> None:
        self.server, self.templates, self.keys = server, templates, tmp / "sent.sqlite3"

    def channel(self, *, timeout: float) -> Channel:
        return make_channel(
            config(self.server, self.templates, timeout), SentKeys(self.keys, "sms")
        )

    def effect(self, key: str) -> Effect:
        return make_effect(key, "sms", data={"to": "+1 650 253 0000", "coupon": "GIFT10"})

    def deliveries(self, key: str) -> int:
        return self.server.accepted(key)

    def set_mode(self, mode: str | None) -> None:
        self.server.set_mode(mode)


class TestSmsConformance(ChannelConformance):
    @pytest.fixture
    def harness(self, server: LocalHTTPServer, templates: Path, tmp_path: Path) -> Harness:
        return Harness(server, templates, tmp_path)


def test_posts_to_messages_with_bearer_token(server: LocalHTTPServer, templates: Path) -> None:
    channel = make_channel(config(server, templates), SentKeys(None, "sms"))
    effect = make_effect("k1", "sms", data={"to": "+1 (650) 253-0000", "coupon": "X9"})
    delivery = channel.deliver(effect)
    assert delivery.status == "sent" and delivery.detail == "provider id msg-1"
    [request] = server.requests
    assert request["path"] == "/v1/messages"
    assert request["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert json.loads(request["body"]) == {
        "to": "+16502530000",  # E.164, whatever was written
        "body": "Hi! Your coupon: X9",
        "from": "Salon",
        "reference": "k1",
    }


def test_phone_from_customer_attributes_and_body_from_data(
    server: LocalHTTPServer, templates: Path
) -> None:
    from dataclasses import replace

    channel = make_channel(config(server, templates), SentKeys(None, "sms"))
    effect = replace(
        make_effect("k2", "sms", template=None, data={"body": "See you at 3pm"}),
        customer={"phone": "+44 20 7946 0958"},
    )
    assert channel.deliver(effect).status == "sent"
    sent = json.loads(server.requests[0]["body"])
    assert (sent["to"], sent["body"]) == ("+442079460958", "See you at 3pm")


def test_wrong_token_is_a_temporary_configuration_problem(
    server: LocalHTTPServer, templates: Path
) -> None:
    bad = SmsConfig(f"{server.url}/v1", "wrong", None, templates, 5)
    delivery = make_channel(bad, SentKeys(None, "sms")).deliver(
        make_effect("k3", "sms", data={"to": "+16502530000", "coupon": "c"})
    )
    assert delivery.status == "temporary_failure"
    assert "JOURNEYFLOW_SMS_TOKEN" in (delivery.detail or "")


@pytest.mark.parametrize(
    ("data", "template", "words"),
    [
        ({"coupon": "c"}, "welcome", "no phone number"),
        ({"to": "+16502530000"}, "welcome", "'coupon' is undefined"),
        ({"to": "+16502530000"}, "missing", "no SMS template 'missing.txt'"),
        ({"to": "+16502530000"}, None, "needs `template:`"),
    ],
)
def test_unsendable_effects_fail_permanently_with_a_reason(
    server: LocalHTTPServer, templates: Path, data: dict[str, str], template: str | None, words: str
) -> None:
    channel = make_channel(config(server, templates), SentKeys(None, "sms"))
    delivery = channel.deliver(make_effect("k4", "sms", template=template, data=data))
    assert delivery.status == "permanent_failure"
    assert words in (delivery.detail or "")
    assert server.requests == []
