"""What the ingest answers: exactly `200` with a small JSON body when events
were taken, and JSON `{"code", "message"}` for every refusal.

The clients read these closely. RudderStack's treats anything but exactly
`200` as a failure and sends the batch again (a `204` would duplicate every
batch); both read `code` and `message` from a refusal, and a 4xx whose body
is not such JSON is retried by RudderStack as if the network had failed.
Segment's retries 408, 410, 429, 460 and 5xx, waiting the `Retry-After`
seconds; every other 4xx it drops, so a refusal a client cannot fix by
waiting must be a 4xx other than those.

Bodies are ASCII JSON: a reason quoting an event's text can hold anything.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response


class JsonResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")


class Refusal(Exception):
    """A request refused whole, and the answer saying why."""

    def __init__(
        self, status: int, code: str, message: str, *, retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after

    def response(self) -> JsonResponse:
        return problem(self.status, self.code, self.message, retry_after=self.retry_after)


def problem(
    status: int,
    code: str,
    message: str,
    *,
    retry_after: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> JsonResponse:
    """A 4xx or 5xx: `{"code", "message"}`, with `Retry-After` when waiting helps."""
    extra = dict(headers or {})
    if retry_after is not None:
        extra["Retry-After"] = str(retry_after)
    return JsonResponse({"code": code, "message": message}, status_code=status, headers=extra)


SHOWN_REJECTED = 100  # the answer lists the first rejections; the rest are counted


def taken(accepted: int, duplicates: int, rejected: list[dict[str, Any]]) -> JsonResponse:
    """The `200`: how many events were accepted, were duplicates, and which
    were rejected (by their index in the batch) with why — at most the first
    SHOWN_REJECTED, with `rejected_count` when there were more (all are kept
    in the dead-letter table), so the answer stays small whatever the batch."""
    body: dict[str, Any] = {
        "success": True,
        "accepted": accepted,
        "duplicates": duplicates,
        "rejected": rejected[:SHOWN_REJECTED],
    }
    if len(rejected) > SHOWN_REJECTED:
        body["rejected_count"] = len(rejected)
    return JsonResponse(body)
