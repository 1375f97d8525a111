"""Phone numbers (one valid number, sent in E.164), the settings, and the token
kept out of every reason and repr: against a real provider-style HTTP server
on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from journeyflow_sms import ConfigError, SmsConfig, make_channel
from journeyflow_sms.phones import PhoneError, e164

from journeyflow import Channel
from journeyflow.delivery import SentKeys
from journeyflow.testing.conformance import LocalHTTPServer, make_effect

TOKEN = "tok-sms-7c6d5e"


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


def channel_for(server: LocalHTTPServer, templates: Path, region: str | None = None) -> Channel:
    config = SmsConfig(f"{server.url}/v1", TOKEN, "Salon", templates, 5, region)
    return make_channel(config, SentKeys(None, "sms"))


# --- numbers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "region", "expected"),
    [
        ("+16502530000", None, "+16502530000"),
        ("+1 (650) 253-0000", None, "+16502530000"),
        ("+44 20 7946 0958", None, "+442079460958"),
        ("06 12 34 56 78", "FR", "+33612345678"),
        ("+33.6.12.34.56.78", "US", "+33612345678"),  # a + wins over the region
        (16502530000, "US", "+16502530000"),  # a trait stored as a number
    ],
)
def test_a_valid_number_is_formatted_e164(value: object, region: str | None, expected: str) -> None:
    assert e164(value, "data.to", region) == expected


@pytest.mark.parametrize(
    ("value", "region", "words"),
    [
        ("+33612345678, +33612345679", None, "characters a phone number does not have"),
        ("+33612345678;+33612345679", None, "characters a phone number does not have"),
        ("call +16502530000 now", None, "characters a phone number does not have"),
        ("+16502530000 ext. 12", None, "characters a phone number does not have"),
        ("tel:+16502530000", None, "characters a phone number does not have"),
        ("+16502530000\r\nX: 1", None, "characters a phone number does not have"),
        ("+１６５０２５３００００", None, "characters a phone number does not have"),
        ("0612345678", None, "needs a leading '+'"),
        ("+15550100", None, "not a valid phone number"),
        ("+1650253000012", None, "not a valid phone number"),
        ("+ (-)", None, "not a phone number"),
        ("", None, "empty"),
        ("+1" + "0" * 40, None, "longer than 32"),
        (True, None, "not bool"),
        (["+16502530000"], None, "not list"),
    ],
)
def test_anything_but_one_valid_number_is_refused(
    value: object, region: str | None, words: str
) -> None:
    with pytest.raises(PhoneError) as caught:
        e164(value, "data.to", region)
    assert str(caught.value).startswith("data.to") and words in str(caught.value)


@pytest.mark.parametrize(
    "to",
    ["+33612345678, +33612345679", "+15550100", "06 12 34 56 78", "+16502530000\nBody: x"],
)
def test_a_bad_number_is_a_permanent_failure_and_nothing_is_sent(
    server: LocalHTTPServer, templates: Path, to: str
) -> None:
    channel = channel_for(server, templates)
    delivery = channel.deliver(make_effect("k-bad", "sms", data={"to": to, "coupon": "c"}))
    assert delivery.status == "permanent_failure"
    assert (delivery.detail or "").startswith("data.to: ")
    assert "\n" not in (delivery.detail or "")  # escaped: no forged log lines
    assert server.requests == []


def test_the_customer_attribute_is_checked_and_formatted(
    server: LocalHTTPServer, templates: Path
) -> None:
    channel = channel_for(server, templates, region="FR")
    good = replace(
        make_effect("k-fr", "sms", data={"coupon": "c"}), customer={"phone": "06 12 34 56 78"}
    )
    assert channel.deliver(good).status == "sent"
    assert json.loads(server.requests[0]["body"])["to"] == "+33612345678"
    bad = replace(make_effect("k-x", "sms", data={"coupon": "c"}), customer={"phone": "n/a"})
    delivery = channel.deliver(bad)
    assert delivery.status == "permanent_failure"
    assert "the customer's phone attribute" in (delivery.detail or "")
    assert len(server.requests) == 1


# --- settings --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://sms.example/v1", "must be an http:// or https:// URL"),
        ("file:///etc/passwd", "must be an http:// or https:// URL"),
        ("https:///v1", "has no host"),
        ("https://sms.example:99999/v1", "not a valid URL"),
        (f"https://acct:{TOKEN}@sms.example/v1", "holds credentials"),
        (f"https://sms.example/v1?token={TOKEN}", "must not have a query"),
        ("https://sms.example/v1\r\nX: 1", "line break"),
    ],
)
def test_a_bad_base_url_is_an_error_naming_it(url: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        SmsConfig.from_env({"JOURNEYFLOW_SMS_BASE_URL": url, "JOURNEYFLOW_SMS_TOKEN": "t"})
    message = str(caught.value)
    assert message.startswith("JOURNEYFLOW_SMS_BASE_URL") and words in message
    assert TOKEN not in message


@pytest.mark.parametrize(
    ("name", "value"),
    [("JOURNEYFLOW_SMS_REGION", "Atlantis"), ("JOURNEYFLOW_SMS_TIMEOUT", "soon")],
)
def test_other_bad_settings_are_errors_naming_them(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"^{name} must be"):
        SmsConfig.from_env({name: value})


def test_a_bad_setting_makes_deliveries_wait_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOURNEYFLOW_SMS_BASE_URL", f"https://acct:{TOKEN}@sms.example/v1")
    monkeypatch.setenv("JOURNEYFLOW_SMS_TOKEN", TOKEN)
    delivery = make_channel().deliver(make_effect("k", "sms", data={"to": "+16502530000"}))
    assert delivery.status == "temporary_failure"
    assert "JOURNEYFLOW_SMS_BASE_URL holds credentials" in (delivery.detail or "")
    assert TOKEN not in (delivery.detail or "") and "acct" not in (delivery.detail or "")


def test_the_region_setting_is_read_and_upper_cased() -> None:
    assert SmsConfig.from_env({"JOURNEYFLOW_SMS_REGION": "fr"}).region == "FR"


# --- the token -------------------------------------------------------------------------


def test_the_token_is_never_in_repr() -> None:
    cfg = SmsConfig("https://sms.example/v1", TOKEN, "Salon")
    assert TOKEN not in repr(cfg) and TOKEN not in str(cfg)
    assert "token='***'" in repr(cfg) and "sms.example" in repr(cfg)


def test_a_network_error_never_carries_the_token(templates: Path) -> None:
    with LocalHTTPServer() as s:
        url = s.url  # free a moment ago, now refusing connections
    # a provider that wants the token in the path too (some do): still redacted
    config = SmsConfig(f"{url}/v1/{TOKEN}", TOKEN, None, templates, 2)
    channel = make_channel(config, SentKeys(None, "sms"))
    delivery = channel.deliver(make_effect("k", "sms", data={"to": "+16502530000", "coupon": "c"}))
    assert delivery.status == "temporary_failure"
    assert TOKEN not in (delivery.detail or "") and "/v1/***/messages" in (delivery.detail or "")
