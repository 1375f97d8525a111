"""Which URLs the webhook channel posts to, and credentials kept out of every
reason, log line and repr: against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
import structlog
from journeyflow_webhook import ConfigError, WebhookConfig, make_channel
from journeyflow_webhook.urls import UrlError, parse_target

from journeyflow import MemoryStore, Registry, VirtualClock, build_manager, dispatch
from journeyflow.delivery import SentKeys, redact_secrets, redact_url
from journeyflow.testing.conformance import LocalHTTPServer, make_effect

SECRET = "hmac-key-9f8e7d"
PASSWORD = "hunter2-pw"
TOKEN = "tok-5a4b3c"

BAD_URLS = [
    ("file:///etc/passwd", "not file:"),
    ("ftp://files.example/x", "not ftp:"),
    ("data:text/plain,hello", "not data:"),
    ("gopher://old.example/1", "not gopher:"),
    ("javascript:alert(1)", "not javascript:"),
    ("//no-scheme.example/hook", "without a scheme"),
    ("hooks.example/hook", "without a scheme"),
    ("http:///only/a/path", "has no host"),
    ("https://", "has no host"),
    ("http://h.example:99999/x", "not a valid URL"),
    ("http://h.example:port/x", "not a valid URL"),
    ("http://h.example/x\r\nX-Injected: 1", "line break or control character"),
    ("http://h.example/a b", "space"),
    ("http://h.example/" + "a" * 3000, "longer than 2048"),
]


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as s:
        yield s


@pytest.fixture
def closed_url() -> str:
    with LocalHTTPServer() as s:
        return s.url  # free a moment ago, now refusing connections


# --- configuration -------------------------------------------------------------------


@pytest.mark.parametrize(("url", "words"), BAD_URLS)
def test_a_bad_url_setting_is_an_error_naming_it(url: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        WebhookConfig.from_env({"JOURNEYFLOW_WEBHOOK_URL": url, "JOURNEYFLOW_WEBHOOK_SECRET": "s"})
    assert "JOURNEYFLOW_WEBHOOK_URL" in str(caught.value)
    assert words in str(caught.value)
    assert len(str(caught.value)) < 300  # a 3,000-character URL is not quoted whole


def test_a_bad_timeout_setting_is_an_error_naming_it() -> None:
    with pytest.raises(ConfigError, match="JOURNEYFLOW_WEBHOOK_TIMEOUT"):
        WebhookConfig.from_env({"JOURNEYFLOW_WEBHOOK_TIMEOUT": "ten"})
    with pytest.raises(ConfigError, match="JOURNEYFLOW_WEBHOOK_TIMEOUT"):
        WebhookConfig(timeout=0)


def test_a_bad_setting_makes_deliveries_wait_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Loading must not fail (the channel would vanish and its effects fail for
    good): the channel answers 'temporary', naming the setting, never the
    password that was in it."""
    monkeypatch.setenv("JOURNEYFLOW_WEBHOOK_URL", f"ftp://bob:{PASSWORD}@files.example/in")
    monkeypatch.setenv("JOURNEYFLOW_WEBHOOK_SECRET", SECRET)
    delivery = make_channel().deliver(make_effect("k-misconfigured", "webhook"))
    assert delivery.status == "temporary_failure"
    assert "JOURNEYFLOW_WEBHOOK_URL must be an http:// or https:// URL" in (delivery.detail or "")
    assert "restart" in (delivery.detail or "")
    assert PASSWORD not in (delivery.detail or "") and "bob" not in (delivery.detail or "")


def test_config_repr_hides_the_secret_and_url_credentials() -> None:
    cfg = WebhookConfig(f"https://bob:{PASSWORD}@hooks.example/in?token={TOKEN}", SECRET)
    for text in (repr(cfg), str(cfg), repr(cfg.target())):
        assert SECRET not in text and PASSWORD not in text and TOKEN not in text
    assert "secret='***'" in repr(cfg) and "hooks.example" in repr(cfg)
    assert "secret=None" in repr(WebhookConfig())


# --- URLs from the effect's data -----------------------------------------------------


@pytest.mark.parametrize(("url", "words"), BAD_URLS)
def test_a_bad_data_url_fails_the_effect_for_good_and_sends_nothing(
    server: LocalHTTPServer, url: str, words: str
) -> None:
    channel = make_channel(WebhookConfig(f"{server.url}/hook", SECRET), SentKeys(None, "webhook"))
    delivery = channel.deliver(make_effect("k-bad-url", "webhook", data={"url": url}))
    assert delivery.status == "permanent_failure"
    assert "data.url" in (delivery.detail or "") and words in (delivery.detail or "")
    assert server.requests == []


def test_a_data_url_that_is_not_a_string_fails_for_good(server: LocalHTTPServer) -> None:
    channel = make_channel(WebhookConfig(f"{server.url}/hook", SECRET), SentKeys(None, "webhook"))
    delivery = channel.deliver(make_effect("k", "webhook", data={"url": ["http://a", "b"]}))
    assert delivery.status == "permanent_failure"
    assert delivery.detail == "data.url must be a URL string, not list"
    assert server.requests == []


def test_url_credentials_are_sent_as_basic_auth_not_in_the_url(
    server: LocalHTTPServer,
) -> None:
    host = server.url.removeprefix("http://")
    channel = make_channel(
        WebhookConfig(f"http://bob:{PASSWORD}@{host}/hook?x=1", SECRET), SentKeys(None, "webhook")
    )
    assert channel.deliver(make_effect("k-basic", "webhook")).status == "sent"
    [request] = server.requests
    assert request["path"] == "/hook?x=1"
    scheme, encoded = request["headers"]["authorization"].split(" ")
    assert (scheme, base64.b64decode(encoded).decode()) == ("Basic", f"bob:{PASSWORD}")


def test_percent_encoded_credentials_are_decoded_for_basic_auth(
    server: LocalHTTPServer,
) -> None:
    host = server.url.removeprefix("http://")
    channel = make_channel(WebhookConfig(None, SECRET), SentKeys(None, "webhook"))
    effect = make_effect("k", "webhook", data={"url": f"http://a%40b:p%3Aw%40@{host}/h"})
    assert channel.deliver(effect).status == "sent"
    encoded = server.requests[0]["headers"]["authorization"].split(" ")[1]
    assert base64.b64decode(encoded).decode() == "a@b:p:w@"


# --- credentials never in a reason, the outbox or the log ----------------------------


def test_network_errors_do_not_carry_url_credentials(closed_url: str) -> None:
    host = closed_url.removeprefix("http://")
    url = f"http://bob:{PASSWORD}@{host}/hook?api_key={TOKEN}&page=2"
    channel = make_channel(WebhookConfig(url, SECRET, 2), SentKeys(None, "webhook"))
    delivery = channel.deliver(make_effect("k-refused", "webhook"))
    assert delivery.status == "temporary_failure"
    detail = delivery.detail or ""
    assert PASSWORD not in detail and TOKEN not in detail and "bob" not in detail
    assert f"{host}/hook?api_key=***" in detail  # still says where


def test_outbox_and_log_never_see_credentials(closed_url: str, tmp_path: Path) -> None:
    """Through the dispatcher: `last_error` and the INFO 'delivery failed' line
    are the channel's reason, which is redacted."""
    host = closed_url.removeprefix("http://")
    url = f"http://bob:{PASSWORD}@{host}/hook?token={TOKEN}"
    registry = Registry.from_manager(build_manager(entry_points=False, disabled=()))
    registry.channels["webhook"] = make_channel(
        WebhookConfig(url, SECRET, 2), SentKeys(None, "webhook")
    )
    store = MemoryStore()
    store.effects["k-leak"] = make_effect("k-leak", "webhook")
    previous = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
    try:
        with structlog.testing.capture_logs() as logs:
            dispatch(store, registry, clock=VirtualClock(datetime(2026, 3, 1, tzinfo=timezone.utc)))
    finally:
        structlog.configure(**previous)
    [effect] = store.get_effects()
    assert effect.status == "pending" and effect.last_error
    [failed] = [entry for entry in logs if entry["event"] == "delivery failed"]
    for text in (effect.last_error, repr(failed)):
        assert PASSWORD not in text and TOKEN not in text and SECRET not in text
    assert "token=***" in effect.last_error


def test_the_secret_is_scrubbed_if_a_lower_layer_quotes_it() -> None:
    assert redact_secrets(f"receiver said: bad signature for {SECRET}", [SECRET]) == (
        "receiver said: bad signature for ***"
    )
    assert redact_secrets("a b c", ["a"]) == "a b c"  # too short to scrub by value


@pytest.mark.parametrize(
    ("text", "hidden", "kept"),
    [
        ("http://u:pw@h/x", ["u:pw"], ["http://***@h/x"]),
        ("see https://user:p@ss@h:8080/x?y=1 now", ["user", "p@ss"], ["h:8080/x", " now"]),
        ("'https://tok123@h/'", ["tok123"], ["'https://***@h/'"]),
        ("https://h/x?token=abc&page=2", ["abc"], ["https://h/x?token=***&page="]),
        ("https://h/x?a=1&api_key=abc123#f", ["abc123"], ["https://h/x?a=", "&api_key=***"]),
        ("https://h/x?signature=abc;password=def", ["abc", "def"], ["signature=***"]),
        ("https://h/x?X-Amz-Credential=a%2Fb&sig=c9", ["a%2Fb", "c9"], ["X-Amz-Credential="]),
        ("https://h/path@not-userinfo", [], ["https://h/path@not-userinfo"]),
        ("no urls here: a@b.c", [], ["no urls here: a@b.c"]),
    ],
)
def test_redact_url(text: str, hidden: list[str], kept: list[str]) -> None:
    redacted = redact_url(text)
    assert all(secret not in redacted for secret in hidden), redacted
    assert all(part in redacted for part in kept), redacted


def test_a_url_error_never_quotes_credentials_it_cannot_place() -> None:
    with pytest.raises(UrlError) as caught:
        parse_target(f"http://bob:{PASSWORD} @h/x", "data.url")
    assert PASSWORD not in str(caught.value) and "not shown" in str(caught.value)
