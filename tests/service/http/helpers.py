"""What the ingest tests check answers with."""

from __future__ import annotations

from typing import Any

import httpx

KEY = "test-write-key"
AUTH = (KEY, "")
GOOD = {"type": "track", "userId": "u1", "event": "clicked", "messageId": "good-1"}


def refused(answer: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The answer is `status` with a JSON code and message; the body."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert set(body) == {"code", "message"} and body["message"]
    if code is not None:
        assert body["code"] == code
    return dict(body)


def still_serves(url: str) -> None:
    assert httpx.get(f"{url}/livez").status_code == 200
    answer = httpx.post(f"{url}/v1/track", json={**GOOD, "messageId": "after"}, auth=AUTH)
    assert answer.status_code == 200 and answer.json()["accepted"] == 1
