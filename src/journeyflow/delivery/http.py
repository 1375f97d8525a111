"""HTTP for channel plugins: one POST, and one reading of the answer.

Every HTTP channel answers the dispatcher the same way:

- 2xx: `sent`;
- 408, 429, 5xx, a timeout, a refused or reset connection:
  `temporary_failure`, retried no sooner than the answer's `Retry-After`;
- 401, 403: `temporary_failure` when the channel gives an `auth_hint` (a
  credential the operator can fix, and the hint says which), else
  `permanent_failure`;
- 3xx: `permanent_failure`: redirects are not followed, a POST must reach the
  configured URL;
- any other status, a malformed URL or one not http(s): `permanent_failure`.

`post` never raises for network trouble; `classify_http` is the table above
for channels that make their own requests. The URL `post` quotes in a detail
is redacted (`redact_url`): no password or query-string key in the outbox.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from journeyflow.delivery.redact import redact_url
from journeyflow.types import Delivery

__all__ = ["HttpAnswer", "classify_http", "parse_retry_after", "post"]

RETRYABLE = frozenset({408, 429})  # and every status from 500 on
AUTH = frozenset({401, 403})


@dataclass(frozen=True)
class HttpAnswer:
    """What `post` got: the Delivery to return, and the body of the answer
    (empty when there was none: a network failure, a malformed URL)."""

    delivery: Delivery
    body: bytes = b""


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> timedelta | None:
    """A `Retry-After` header as a wait: delta-seconds (`120`) or an HTTP date
    (`Wed, 21 Oct 2026 07:28:00 GMT`, counted from `now`, default the system
    time). None when absent, unreadable or not in the future."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        wait = timedelta(seconds=int(text))
    else:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:  # "-0000": UTC by RFC 5322
            when = when.replace(tzinfo=UTC)
        wait = when - (now or datetime.now(UTC))
    return wait if wait > timedelta(0) else None


def classify_http(
    status: int,
    reason: str = "",
    *,
    retry_after: str | None = None,
    auth_hint: str | None = None,
) -> Delivery:
    """An HTTP status as a Delivery (the rules in this module's docstring).

    :param reason: the status line's text, kept in the detail
    :param retry_after: the answer's `Retry-After` header, if any
    :param auth_hint: for 401/403: what to check (`check JOURNEYFLOW_SMS_TOKEN`);
        given, they are temporary failures with this hint, else permanent
    """
    text = f"HTTP {status} {reason}".strip()
    if 200 <= status < 300:
        return Delivery.sent(text)
    if status in RETRYABLE or status >= 500:
        wait = parse_retry_after(retry_after)
        if wait is None:
            return Delivery.retry(text)
        return Delivery.retry(f"{text} (Retry-After: {retry_after})", after=wait)
    if status in AUTH and auth_hint:
        return Delivery.retry(f"{text}: {auth_hint}")
    if 300 <= status < 400:
        return Delivery.give_up(f"{text}: the URL redirects; configure the final URL")
    return Delivery.give_up(text)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises HTTPError with the 3xx code


_OPENER = urllib.request.build_opener(_NoRedirect)


def post(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    timeout: float,
    auth_hint: str | None = None,
) -> HttpAnswer:
    """POST `body` to `url` and classify the answer (`classify_http`); never
    raises for network trouble. Redirects are not followed.

    :param headers: sent as given (add `Content-Type`, `Idempotency-Key`...)
    :param timeout: seconds to connect and for each read
    :param auth_hint: passed to `classify_http` for 401/403
    """
    shown = redact_url(url)
    if not url.lower().startswith(("http://", "https://")):
        return HttpAnswer(Delivery.give_up(f"bad URL {shown!r}: only http:// and https:// URLs"))
    try:
        request = urllib.request.Request(url, data=body, method="POST", headers=dict(headers))
        with _OPENER.open(request, timeout=timeout) as response:
            answer = response.read()
            return HttpAnswer(
                classify_http(
                    response.status,
                    response.reason,
                    retry_after=response.headers.get("Retry-After"),
                    auth_hint=auth_hint,
                ),
                answer,
            )
    except urllib.error.HTTPError as exc:
        with exc:
            return HttpAnswer(
                classify_http(
                    exc.code,
                    str(exc.reason),
                    retry_after=exc.headers.get("Retry-After") if exc.headers else None,
                    auth_hint=auth_hint,
                )
            )
    except urllib.error.URLError as exc:
        return HttpAnswer(Delivery.retry(redact_url(f"{shown}: {exc.reason}")))
    except TimeoutError:
        return HttpAnswer(Delivery.retry(f"{shown}: no answer within {timeout:g}s"))
    except ValueError as exc:  # a malformed URL
        return HttpAnswer(Delivery.give_up(redact_url(f"bad URL {shown!r}: {exc}")))
    except OSError as exc:  # connection reset, remote closed...
        return HttpAnswer(Delivery.retry(redact_url(f"{shown}: {type(exc).__name__}: {exc}")))
