"""The `webhook` channel: an HTTP POST of JSON per effect, signed and idempotent.

Configuration (environment, read when the plugins are loaded):

    JOURNEYFLOW_WEBHOOK_URL      default URL (a send's `data.url` overrides it)
    JOURNEYFLOW_WEBHOOK_SECRET   HMAC key for X-Journeyflow-Signature (required)
    JOURNEYFLOW_WEBHOOK_TIMEOUT  seconds, default 10

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
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import version

from journeyflow import Channel, Delivery, Effect, hookimpl
from journeyflow.delivery import SentKeys, post

__version__ = version("journeyflow-webhook")
NAME = "webhook"
REPLAY_WINDOW = 300  # seconds a signature stays valid for `verify`


@dataclass(frozen=True)
class WebhookConfig:
    url: str | None = None
    secret: str | None = None
    timeout: float = 10.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WebhookConfig:
        env = os.environ if environ is None else environ
        return cls(
            url=env.get("JOURNEYFLOW_WEBHOOK_URL") or None,
            secret=env.get("JOURNEYFLOW_WEBHOOK_SECRET") or None,
            timeout=float(env.get("JOURNEYFLOW_WEBHOOK_TIMEOUT") or 10),
        )


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
        url = effect.data.get("url") or self.config.url
        if not url:
            return Delivery.retry(
                "no webhook URL: set JOURNEYFLOW_WEBHOOK_URL or put `url:` in the send's data"
            )
        if not self.config.secret:
            return Delivery.retry(
                "JOURNEYFLOW_WEBHOOK_SECRET is not set: webhooks are always signed"
            )
        body = payload(effect)
        timestamp = str(int(self.clock()))
        delivery = post(
            str(url),
            body,
            {
                "Content-Type": "application/json",
                "User-Agent": f"journeyflow-webhook/{__version__}",
                "Idempotency-Key": effect.key,
                "X-Journeyflow-Timestamp": timestamp,
                "X-Journeyflow-Signature": sign(self.config.secret, timestamp, body),
            },
            timeout=self.config.timeout,
        ).delivery
        if delivery.status == "sent":
            self.sent.add(effect.key, delivery.detail)
        return delivery


def make_channel(config: WebhookConfig | None = None, sent: SentKeys | None = None) -> Channel:
    """The `webhook` Channel (configuration from the environment by default)."""
    config = config or WebhookConfig.from_env()
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
