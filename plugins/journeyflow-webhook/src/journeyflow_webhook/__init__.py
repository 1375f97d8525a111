"""The `webhook` channel: an HTTP POST of JSON per effect, signed and idempotent.

Configuration (environment, read and checked when the plugins are loaded):

    JOURNEYFLOW_WEBHOOK_URL      default URL (a send's `data.url` overrides it)
    JOURNEYFLOW_WEBHOOK_SECRET   HMAC key for X-Journeyflow-Signature (required)
    JOURNEYFLOW_WEBHOOK_TIMEOUT  seconds, default 10

URLs, configured or from `data.url`, must be http:// or https:// with a host
(`urls.parse_target`); userinfo (`https://user:pw@host/`) is sent as HTTP
Basic authentication. A malformed setting makes every delivery a temporary
failure naming the setting (fix it and restart: the retries then go
through); a bad `data.url` fails that effect permanently. Every reason the
channel returns is redacted (`redact_secrets`): no URL userinfo, no credential-like
query value, no secret.

Headers: `Idempotency-Key: <effect key>`, `X-Journeyflow-Timestamp: <unix
seconds>`, `X-Journeyflow-Signature: sha256=<hex HMAC-SHA256 of
"<timestamp>.<body>">` — the timestamp is signed, so a receiver can refuse
replays (`verify` does, after 5 minutes).

Answers are read by journeyflow's shared HTTP classification
(`journeyflow.delivery.classify_http`): 2xx sent; 408, 429 and 5xx (after
`Retry-After` when given), timeouts and connection errors temporary; other
4xx and 3xx (redirects are not followed: a POST must reach the configured
URL) permanent.

`journeyflow.delivery.post` uses urllib.request, not httpx: one POST per
effect needs no client library, connection pool or async, and the plugin
then depends on journeyflow alone.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from importlib.metadata import version

from journeyflow import Channel, Delivery, Effect, hookimpl
from journeyflow.delivery import SentKeys, post, redact_secrets
from journeyflow_webhook.config import ConfigError, WebhookConfig
from journeyflow_webhook.urls import Target, UrlError, parse_target

__all__ = [
    "ConfigError",
    "WebhookChannel",
    "WebhookConfig",
    "make_channel",
    "payload",
    "sign",
    "verify",
]

__version__ = version("journeyflow-webhook")
NAME = "webhook"
REPLAY_WINDOW = 300  # seconds a signature stays valid for `verify`


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Journeyflow-Signature value for a body sent at `timestamp`."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify(
    secret: str,
    body: bytes,
    timestamp: str,
    signature: str,
    *,
    now: float | None = None,
    window: float = REPLAY_WINDOW,
) -> bool:
    """For receivers: is this a genuine, recent journeyflow webhook?"""
    try:
        age = (time.time() if now is None else now) - int(timestamp)
    except ValueError:
        return False
    return abs(age) <= window and hmac.compare_digest(sign(secret, timestamp, body), signature)


def payload(effect: Effect) -> bytes:
    """The JSON body: the effect, without the `url` it was sent to."""
    data = {k: v for k, v in effect.data.items() if k != "url"}
    return json.dumps(
        {
            "key": effect.key,
            "channel": effect.channel,
            "template": effect.template,
            "customer_id": effect.customer_id,
            "journey": effect.journey,
            "version": effect.version,
            "enrolment_id": effect.enrolment_id,
            "created_at": effect.created_at.isoformat(),
            "data": data,
        },
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    ).encode()


class WebhookChannel:
    """Delivers effects as signed JSON POSTs; idempotent through `sent`."""

    def __init__(
        self, config: WebhookConfig, sent: SentKeys, clock: Callable[[], float] = time.time
    ) -> None:
        self.config = config
        self.sent = sent
        self.clock = clock

    def __call__(self, effect: Effect) -> Delivery:
        if effect.key in self.sent:
            return Delivery.sent("already delivered")
        target = self._target(effect)
        if isinstance(target, Delivery):
            return target
        if not self.config.secret:
            return Delivery.retry(
                "JOURNEYFLOW_WEBHOOK_SECRET is not set: webhooks are always signed"
            )
        body = payload(effect)
        timestamp = str(int(self.clock()))
        delivery = post(
            target.url,
            body,
            {
                "Content-Type": "application/json",
                "User-Agent": f"journeyflow-webhook/{__version__}",
                "Idempotency-Key": effect.key,
                "X-Journeyflow-Timestamp": timestamp,
                "X-Journeyflow-Signature": sign(self.config.secret, timestamp, body),
                **target.headers(),
            },
            timeout=self.config.timeout,
        ).delivery
        if delivery.detail:  # the kit quotes the URL in network errors
            secrets = (self.config.secret, *target.secrets())
            delivery = replace(delivery, detail=redact_secrets(delivery.detail, secrets))
        if delivery.status == "sent":
            self.sent.add(effect.key, delivery.detail)
        return delivery

    def _target(self, effect: Effect) -> Target | Delivery:
        """Where this effect goes: its `data.url`, checked (a bad one fails
        the effect for good), else the configured URL."""
        if "url" in effect.data and effect.data["url"] not in (None, ""):
            try:
                return parse_target(effect.data["url"], "data.url")
            except UrlError as exc:
                return Delivery.give_up(str(exc))
        if self.config.url is None:
            return Delivery.retry(
                "no webhook URL: set JOURNEYFLOW_WEBHOOK_URL or put `url:` in the send's data"
            )
        target = self.config.target()  # checked when the config was made
        assert target is not None
        return target


class Misconfigured:
    """The channel while a setting is malformed: every delivery waits, with
    the reason, so fixing the setting and restarting lets the retries through
    (as with a missing setting) instead of failing effects for good."""

    def __init__(self, reason: str) -> None:
        self.reason = f"{reason}; fix it and restart the deliverer"

    def __call__(self, effect: Effect) -> Delivery:
        return Delivery.retry(self.reason)


def make_channel(config: WebhookConfig | None = None, sent: SentKeys | None = None) -> Channel:
    """The `webhook` Channel (configuration from the environment by default;
    a malformed setting there gives a channel that answers every effect with
    a temporary failure naming it)."""
    if config is None:
        try:
            config = WebhookConfig.from_env()
        except ConfigError as exc:
            return Channel(
                NAME,
                deliver=Misconfigured(str(exc)),
                description="signed JSON POST per effect (misconfigured)",
            )
    sent = sent or SentKeys.in_state_dir(NAME)
    return Channel(
        NAME,
        deliver=WebhookChannel(config, sent),
        description="signed JSON POST per effect",
        timeout=config.timeout,
    )


@hookimpl
def journeyflow_channels() -> Iterable[Channel]:
    return [make_channel()]
