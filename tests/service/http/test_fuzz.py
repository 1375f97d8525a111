"""A thousand random requests (hypothesis) at a live server: random paths,
keys, encodings and bodies — raw bytes, any JSON, batches of calls whose
fields are each right or wrong. Every answer has a status of the right class
and the JSON its status promises; nothing is kept for a sender without a
valid key; what is kept is exactly what the answers said was accepted, and
each kept event passes the engine's own check; the server serves after."""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journeyflow.events import Event, check_event
from journeyflow.store.sql import SqlStore
from journeyflow.store.sql.inbox import Inbox
from tests.service.http.conftest import KEY, Serve
from tests.service.http.helpers import still_serves

EXAMPLES = 1000
PATHS = ["/v1/batch", "/v1/track", "/v1/identify", "/v1/page", "/v1/group", "/v1/alias"]


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'fuzz.db'}"


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def field(right: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A field as a client might send it: right, or anything at all."""
    return st.one_of(right, right, json_values)


calls = st.fixed_dictionaries(
    {},
    optional={
        "type": field(st.sampled_from(["track", "identify", "page", "screen", "group", "alias"])),
        "userId": field(st.text(min_size=1, max_size=12) | st.integers(0, 10**6)),
        "anonymousId": field(st.text(max_size=12)),
        "event": field(st.text(min_size=1, max_size=12)),
        "messageId": field(st.text(min_size=1, max_size=16)),
        "timestamp": field(
            st.datetimes(timezones=st.just(timezone.utc)).map(lambda d: d.isoformat())
        ),
        "properties": field(st.dictionaries(st.text(max_size=6), json_values, max_size=4)),
        "traits": field(st.dictionaries(st.text(max_size=6), json_values, max_size=3)),
        "context": field(st.dictionaries(st.text(max_size=6), json_values, max_size=3)),
        "groupId": json_values,
        "previousId": json_values,
    },
)

bodies = st.one_of(
    st.binary(max_size=200),  # anything at all
    json_values.map(lambda v: json.dumps(v).encode()),
    calls.map(lambda c: json.dumps(c).encode()),
    st.fixed_dictionaries(
        {"batch": st.lists(calls | json_values, max_size=8)},
        optional={
            "sentAt": field(
                st.datetimes(timezones=st.just(timezone.utc)).map(lambda d: d.isoformat())
            ),
            "context": field(st.dictionaries(st.text(max_size=6), json_values, max_size=3)),
            "integrations": json_values,
            "writeKey": st.sampled_from([KEY, "wrong"]),
        },
    ).map(lambda b: json.dumps(b).encode()),
)

requests = st.fixed_dictionaries(
    {
        "path": st.sampled_from([*PATHS, "/v1/nothing"]),
        "auth": st.sampled_from(["right", "wrong", "none"]),
        "encoding": st.sampled_from([None, None, "gzip", "gzip", "deflate"]),
        "body": bodies,
    }
)


def test_random_requests(serve: Serve, inbox: Inbox, store: SqlStore) -> None:
    said_accepted = 0
    statuses: dict[int, int] = {}
    with serve() as url:
        with httpx.Client(base_url=url) as http:

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
            )
            @given(request=requests)
            def one(request: dict[str, Any]) -> None:
                nonlocal said_accepted
                body: bytes = request["body"]
                headers = {"content-type": "application/json"}
                if request["encoding"] is not None:
                    headers["content-encoding"] = request["encoding"]
                    body = gzip.compress(body) if request["encoding"] == "gzip" else body
                auth = {"right": (KEY, ""), "wrong": ("nope", ""), "none": None}[request["auth"]]
                before = (inbox.depth(), store.count_rejected())
                answer = http.post(request["path"], content=body, headers=headers, auth=auth)
                status = answer.status_code
                statuses[status] = statuses.get(status, 0) + 1
                assert status in (200, 400, 401, 404, 413, 415), answer.text
                payload = answer.json()
                if status != 200:
                    assert set(payload) == {"code", "message"}
                    # a refused request keeps no event (a single call's rejection is kept)
                    assert inbox.depth() == before[0]
                    if status not in (400, 413) or request["path"] == "/v1/batch":
                        assert store.count_rejected() == before[1]
                    return
                assert (
                    request["auth"] == "right"
                    or b'"writeKey": "' + KEY.encode() in (request["body"])
                )
                assert payload["success"] is True
                counted = payload["accepted"] + payload["duplicates"] + len(payload["rejected"])
                sent = json.loads(request["body"])
                assert counted == (len(sent["batch"]) if request["path"] == "/v1/batch" else 1)
                assert inbox.depth() == before[0] + payload["accepted"]
                said_accepted += payload["accepted"]

            one()
        kept = inbox.take(100_000)
        assert len(kept) == said_accepted
        now = datetime.now(timezone.utc)
        for item in kept:
            event = check_event(item.raw, now)
            assert isinstance(event, Event)
            assert (event.message_id, event.customer_id) == (item.message_id, item.customer_id)
            assert KEY not in json.dumps(item.raw)
        assert httpx.get(f"{url}/readyz").status_code == 200
        still_serves(url)
    # the requests reached each kind of answer, not one refusal a thousand times
    assert {200, 400, 401} <= set(statuses), statuses
