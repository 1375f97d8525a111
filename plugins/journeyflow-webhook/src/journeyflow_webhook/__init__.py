"""The `webhook` channel: an HTTP POST of JSON per effect, signed and idempotent.

Configuration (environment, read when the plugins are loaded):

    JOURNEYFLOW_WEBHOOK_URL      default URL (a send's `data.url` overrides it)
    JOURNEYFLOW_WEBHOOK_SECRET   HMAC key for X-Journeyflow-Signature (required)
    JOURNEYFLOW_WEBHOOK_TIMEOUT  seconds, default 10

Headers: `Idempotency-Key: <effect key>`, `X-Journeyflow-Timestamp: <unix
seconds>`, `X-Journeyflow-Signature: sha256=<hex HMAC-SHA256 of
"<timestamp>.<body>">` — the timestamp is signed, so a receiver can refuse
replays (`verify` does, after 5 minutes).

Answers: 2xx sent; 408, 429 and 5xx, timeouts and connection errors
temporary; other 4xx and 3xx (redirects are not followed: a POST must reach
the configured URL) permanent.

urllib.request, not httpx: one POST per effect needs no client library,
connection pool or async, and the plugin then depends on journeyflow alone.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from journeyflow.delivery.outbox import SentKeys, state_dir
from journeyflow.plugin.manager import hookimpl
from journeyflow.types import Channel, Delivery, Effect

__version__ = "0.1.0"
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


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises HTTPError with the 3xx code


_OPENER = urllib.request.build_opener(_NoRedirect)


def classify(status: int, reason: str = "") -> Delivery:
    """An HTTP status as a Delivery: 2xx sent; 408/429/5xx temporary; else permanent."""
    text = f"HTTP {status} {reason}".strip()
    if 200 <= status < 300:
        return Delivery.sent(text)
    if status in (408, 429) or status >= 500:
        return Delivery.retry(text)
    if 300 <= status < 400:
        return Delivery.give_up(f"{text}: the URL redirects; configure the final URL")
    return Delivery.give_up(text)


def post(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> Delivery:
    """POST and classify the answer; never raises for network trouble."""
    if not url.lower().startswith(("http://", "https://")):
        return Delivery.give_up(f"bad URL {url!r}: webhooks go to http:// or https:// URLs")
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json", **headers}
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            response.read()
            return classify(response.status, response.reason)
    except urllib.error.HTTPError as exc:
        with exc:
            return classify(exc.code, str(exc.reason))
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, str) and "unknown url type" in exc.reason:
            return Delivery.give_up(f"bad URL {url!r}: {exc.reason}")
        return Delivery.retry(f"{url}: {exc.reason}")
    except TimeoutError:
        return Delivery.retry(f"{url}: no answer within {timeout:g}s")
    except ValueError as exc:  # a malformed URL
        return Delivery.give_up(f"bad URL {url!r}: {exc}")
    except OSError as exc:  # connection reset, remote closed...
        return Delivery.retry(f"{url}: {type(exc).__name__}: {exc}")


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
                "User-Agent": f"journeyflow-webhook/{__version__}",
                "Idempotency-Key": effect.key,
                "X-Journeyflow-Timestamp": timestamp,
                "X-Journeyflow-Signature": sign(self.config.secret, timestamp, body),
            },
            self.config.timeout,
        )
        if delivery.status == "sent":
            self.sent.add(effect.key, delivery.detail)
        return delivery


def make_channel(config: WebhookConfig | None = None, sent: SentKeys | None = None) -> Channel:
    """The `webhook` Channel (configuration from the environment by default)."""
    config = config or WebhookConfig.from_env()
    sent = sent or SentKeys(state_dir() / "sent-keys.sqlite3", NAME)
    return Channel(
        NAME,
        deliver=WebhookChannel(config, sent),
        description="signed JSON POST per effect",
        timeout=config.timeout,
    )


@hookimpl
def journeyflow_channels() -> Iterable[Channel]:
    return [make_channel()]
