"""Delivery: the outbox dispatcher (`delivery.outbox`: `Deliverer`, `dispatch`)
that hands committed effects to channel plugins under a lease, one send at a
time in a thread with its timeout (`delivery.send`), spacing retries with a
jittered backoff (`delivery.backoff`, tenacity's waits), holding back a
channel that keeps failing (`delivery.breaker`, a pybreaker circuit per
channel) and counting what it did (`delivery.report`); and the kit channel
authors use, re-exported here:

- `SentKeys`, `state_dir` (`delivery.sentkeys`): the effect keys a channel
  delivered, in a small SQLite file under the state folder, so a redelivery
  after a crash is not sent twice;
- `post`, `HttpAnswer`, `classify_http`, `parse_retry_after`
  (`delivery.http`): one POST and one reading of an HTTP answer (which
  statuses are sent, temporary or permanent; `Retry-After`), shared by every
  HTTP channel;
- `redact_url` (`delivery.redact`): any text with its URLs' userinfo, query
  values and fragments hidden, for what a channel logs or reports.

Names load on first use (PEP 562): a plugin importing `SentKeys` does not
pay for urllib.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "SentKeys": "journeyflow.delivery.sentkeys",
    "state_dir": "journeyflow.delivery.sentkeys",
    "HttpAnswer": "journeyflow.delivery.http",
    "classify_http": "journeyflow.delivery.http",
    "parse_retry_after": "journeyflow.delivery.http",
    "post": "journeyflow.delivery.http",
    "HIDDEN": "journeyflow.delivery.redact",
    "redact_secrets": "journeyflow.delivery.redact",
    "redact_url": "journeyflow.delivery.redact",
}

__all__ = [
    "HIDDEN",
    "HttpAnswer",
    "SentKeys",
    "classify_http",
    "parse_retry_after",
    "post",
    "redact_secrets",
    "redact_url",
    "state_dir",
]

if TYPE_CHECKING:
    from journeyflow.delivery.http import HttpAnswer, classify_http, parse_retry_after, post
    from journeyflow.delivery.redact import HIDDEN, redact_secrets, redact_url
    from journeyflow.delivery.sentkeys import SentKeys, state_dir


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'journeyflow.delivery' has no attribute {name!r}")
    return getattr(import_module(module), name)
