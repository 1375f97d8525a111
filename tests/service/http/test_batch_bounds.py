"""What a batch of many tiny calls costs is bounded by its count, not only its
bytes: past 10,000 calls it is refused whole, and an answer lists at most the
first 100 rejections (all of them are kept)."""

from __future__ import annotations

import httpx

from journeyflow.service.http.payload import MAX_CALLS
from journeyflow.service.http.responses import SHOWN_REJECTED
from journeyflow.store.sql import SqlStore
from journeyflow.store.sql.inbox import Inbox
from tests.service.http.conftest import Serve
from tests.service.http.helpers import AUTH, refused, still_serves


def test_a_batch_of_more_calls_than_the_cap_is_refused_whole(serve: Serve, inbox: Inbox) -> None:
    calls = [0] * (MAX_CALLS + 1)  # a few bytes each: far under the body cap
    with serve() as url:
        answer = httpx.post(f"{url}/v1/batch", json={"batch": calls}, auth=AUTH, timeout=60)
        body = refused(answer, 413, "too-many-calls")
        assert "10,000" in body["message"]
        assert inbox.depth() == 0
        still_serves(url)


def test_the_answer_lists_the_first_rejections_and_counts_them_all(
    serve: Serve, store: SqlStore
) -> None:
    calls = [
        {"type": "track", "userId": "u", "event": "", "messageId": f"m{i}"} for i in range(250)
    ]
    with serve() as url:
        answer = httpx.post(f"{url}/v1/batch", json={"batch": calls}, auth=AUTH, timeout=60)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [r["index"] for r in body["rejected"]] == list(range(SHOWN_REJECTED))
    assert body["rejected_count"] == 250
    assert len(store.rejected_events(after=0, limit=1000)) == 250
