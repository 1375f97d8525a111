"""The ingest endpoints over real HTTP: what a batch and a single call keep in
the inbox, how the batch's context and the client's clock are applied, what
page/screen/group/alias become, the 200's body, and the health endpoints."""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from journeyflow.events import Event, check_event
from journeyflow.store.sql import SqlStore
from journeyflow.store.sql.inbox import Inbox
from tests.service.http.conftest import KEY, Serve
from tests.service.http.helpers import AUTH, GOOD, refused


def call(n: int, **fields: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "userId": f"u{n % 5}",
        "event": "order_completed",
        "messageId": f"msg-{n}",
        "timestamp": "2026-03-01T10:00:00+00:00",
        "properties": {"n": n},
        **fields,
    }


def test_a_batch_is_kept_in_order_with_the_batch_context_under_each_call(
    serve: Serve, inbox: Inbox
) -> None:
    batch = [call(n) for n in range(20)]
    batch[3]["context"] = {"ip": "10.0.0.1", "locale": "fr-FR"}
    batch[4]["integrations"] = {"All": False}
    body = {
        "batch": batch,
        "context": {"library": {"name": "batch-lib"}, "locale": "en-GB"},
        "integrations": {"All": True},
    }
    with serve() as url:
        answer = httpx.post(f"{url}/v1/batch", json=body, auth=AUTH)
    assert answer.status_code == 200
    assert answer.json() == {"success": True, "accepted": 20, "duplicates": 0, "rejected": []}
    kept = inbox.take(100)
    assert [i.message_id for i in kept] == [f"msg-{n}" for n in range(20)]
    assert kept[0].raw["context"] == {"library": {"name": "batch-lib"}, "locale": "en-GB"}
    assert kept[3].raw["context"] == {
        "library": {"name": "batch-lib"},
        "locale": "fr-FR",  # the call's own wins
        "ip": "10.0.0.1",
    }
    assert kept[0].raw["integrations"] == {"All": True}
    assert kept[4].raw["integrations"] == {"All": False}
    for item in kept:  # what the applier hands the engine passes the engine's check
        assert isinstance(check_event(item.raw, datetime.now(timezone.utc)), Event)


def test_the_same_batch_sent_again_is_all_duplicates(serve: Serve, inbox: Inbox) -> None:
    body = {"batch": [call(n) for n in range(5)]}
    with serve() as url:
        first = httpx.post(f"{url}/v1/batch", json=body, auth=AUTH).json()
        again = httpx.post(f"{url}/v1/batch", json=body, auth=AUTH).json()
    assert (first["accepted"], first["duplicates"]) == (5, 0)
    assert (again["accepted"], again["duplicates"]) == (0, 5)
    assert inbox.depth() == 5


def test_the_clients_clock_is_corrected_by_sent_at(serve: Serve, inbox: Inbox) -> None:
    now = datetime.now(timezone.utc)
    client_clock = now - timedelta(hours=3)  # the sender's clock is 3 hours slow
    happened = client_clock - timedelta(minutes=10)  # by its clock, 10 minutes before sending
    body = {
        "batch": [call(1, timestamp=happened.isoformat()), call(2, timestamp=None)],
        "sentAt": client_clock.isoformat(),
    }
    with serve() as url:
        assert httpx.post(f"{url}/v1/batch", json=body, auth=AUTH).status_code == 200
        after = datetime.now(timezone.utc)
    corrected, untimed = inbox.take(10)
    moment = datetime.fromisoformat(corrected.raw["timestamp"])
    received = datetime.fromisoformat(corrected.raw["receivedAt"])
    assert corrected.raw["originalTimestamp"] == happened.isoformat()
    assert moment == received - (client_clock - happened)  # Segment's rule, to the microsecond
    assert now <= received <= after
    assert untimed.raw["timestamp"] == untimed.raw["receivedAt"]  # no timestamp: when received


def test_an_event_dated_ahead_of_the_clock_after_correction_is_rejected(
    serve: Serve, inbox: Inbox
) -> None:
    ahead = (datetime.now(timezone.utc) + timedelta(days=2)).isoformat()
    with serve() as url:
        answer = httpx.post(
            f"{url}/v1/batch", json={"batch": [call(1, timestamp=ahead)]}, auth=AUTH
        ).json()
    assert answer["accepted"] == 0
    assert [r["index"] for r in answer["rejected"]] == [0]
    assert "ahead of the engine's clock" in answer["rejected"][0]["reason"]
    assert inbox.depth() == 0


def test_page_screen_group_and_alias_become_documented_track_events(
    serve: Serve, inbox: Inbox
) -> None:
    calls: list[tuple[str, dict[str, Any]]] = [
        ("page", {"name": "Pricing", "category": "Docs", "properties": {"path": "/pricing"}}),
        ("screen", {"name": "Home", "properties": {}}),
        ("group", {"groupId": "acme", "traits": {"plan": "gold"}}),
        ("alias", {"previousId": "anon-7"}),
    ]
    with serve() as url:
        for kind, fields in calls:
            body = {"userId": "ana", "messageId": f"{kind}-1", **fields}
            answer = httpx.post(f"{url}/v1/{kind}", json=body, auth=AUTH)
            assert answer.status_code == 200, answer.text
            assert answer.json()["accepted"] == 1
        # in a batch too, with the type in each call
        batch = [{"type": kind, "userId": "bo", "messageId": f"{kind}-2", **f} for kind, f in calls]
        assert (
            httpx.post(f"{url}/v1/batch", json={"batch": batch}, auth=AUTH).json()["accepted"] == 4
        )
    kept = {i.message_id: i.raw for i in inbox.take(100)}
    now = datetime.now(timezone.utc)
    for suffix in ("1", "2"):
        events = {kind: check_event(kept[f"{kind}-{suffix}"], now) for kind, _ in calls}
        assert all(isinstance(e, Event) for e in events.values())
        page, screen, group, alias = (events[k] for k in ("page", "screen", "group", "alias"))
        assert isinstance(page, Event) and isinstance(screen, Event)
        assert isinstance(group, Event) and isinstance(alias, Event)
        assert (page.type, page.name) == ("track", "page_viewed")
        assert page.properties == {"path": "/pricing", "name": "Pricing", "category": "Docs"}
        assert (screen.name, screen.properties) == ("screen_viewed", {"name": "Home"})
        assert (group.name, group.properties) == (
            "group_joined",
            {"groupId": "acme", "traits": {"plan": "gold"}},
        )
        assert group.traits == {}  # the group's traits are not the customer's
        assert (alias.name, alias.properties) == ("user_aliased", {"previousId": "anon-7"})


def test_the_path_gives_a_single_calls_type(serve: Serve, inbox: Inbox) -> None:
    with serve() as url:
        answer = httpx.post(
            f"{url}/v1/identify",
            json={"type": "track", "userId": "ana", "traits": {"plan": "pro"}, "messageId": "i1"},
            auth=AUTH,
        )
    assert answer.status_code == 200
    event = check_event(inbox.take(1)[0].raw, datetime.now(timezone.utc))
    assert isinstance(event, Event) and event.type == "identify"


def test_a_null_user_id_with_an_anonymous_id_is_taken(serve: Serve, inbox: Inbox) -> None:
    body = {"batch": [call(1, userId=None, anonymousId="anon-1")]}
    with serve() as url:
        assert httpx.post(f"{url}/v1/batch", json=body, auth=AUTH).json()["accepted"] == 1
    assert inbox.take(1)[0].customer_id == "anon-1"


def test_a_call_without_message_id_gets_one_from_its_content(serve: Serve, inbox: Inbox) -> None:
    body = {"batch": [{"type": "track", "userId": "u", "event": "clicked"}]}
    with serve() as url:
        first = httpx.post(f"{url}/v1/batch", json=body, auth=AUTH).json()
        again = httpx.post(f"{url}/v1/batch", json=body, auth=AUTH).json()
    assert (first["accepted"], again["duplicates"]) == (1, 1)
    assert inbox.take(1)[0].message_id.startswith("http-")


def test_the_write_key_is_not_kept(serve: Serve, inbox: Inbox) -> None:
    with serve() as url:
        batch = {"batch": [call(1, writeKey=KEY)], "writeKey": KEY}
        assert httpx.post(f"{url}/v1/batch", json=batch).status_code == 200
        single = {**call(2), "writeKey": KEY}
        assert httpx.post(f"{url}/v1/track", json=single).status_code == 200
    for item in inbox.take(10):
        assert KEY not in repr(item.raw)


def test_a_gzipped_batch_is_taken(serve: Serve, inbox: Inbox) -> None:
    body = gzip.compress(json.dumps({"batch": [call(n) for n in range(50)]}).encode())
    with serve() as url:
        answer = httpx.post(
            f"{url}/v1/batch",
            content=body,
            auth=AUTH,
            headers={"content-encoding": "gzip", "content-type": "application/json"},
        )
    assert answer.status_code == 200 and answer.json()["accepted"] == 50
    assert inbox.depth() == 50


def test_on_accepted_is_called_after_a_commit_that_added_events(serve: Serve, inbox: Inbox) -> None:
    seen: list[int] = []
    with serve(on_accepted=lambda: seen.append(inbox.depth())) as url:
        httpx.post(f"{url}/v1/batch", json={"batch": [call(1)]}, auth=AUTH)
        httpx.post(f"{url}/v1/batch", json={"batch": [call(1)]}, auth=AUTH)  # a duplicate
        httpx.post(f"{url}/v1/batch", json={"batch": [{"type": "nope"}]}, auth=AUTH)
    assert seen == [1]  # once, and the event was committed by then


def test_health_endpoints(serve: Serve) -> None:
    state = {"ready": True}
    with serve(ready=lambda: state["ready"]) as url:
        assert httpx.get(f"{url}/livez").status_code == 200
        assert httpx.get(f"{url}/readyz").status_code == 200
        state["ready"] = False
        answer = httpx.get(f"{url}/readyz")
        assert answer.status_code == 503 and answer.json()["code"] == "not-ready"
        assert httpx.get(f"{url}/livez").status_code == 200
        httpx.post(f"{url}/v1/batch", json={"batch": [call(1)]}, auth=AUTH)
        metrics = httpx.get(f"{url}/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'journeyflow_events_accepted_total{source="http"}' in metrics.text
    assert 'journeyflow_http_requests_total{path="/v1/batch",status="200"}' in metrics.text


def test_bad_calls_in_a_batch_are_rejected_each_and_kept_the_good_ones_taken(
    serve: Serve, inbox: Inbox, store: SqlStore
) -> None:
    batch: list[Any] = [
        GOOD,
        ["not", "an", "object"],
        {"type": "purchase", "userId": "u1"},
        {"type": "track", "event": "no_one"},
        {"type": "track", "userId": "u1"},
        {"type": "track", "userId": "u1", "event": "x", "properties": "text"},
        {"type": "track", "userId": "u1", "event": "x", "timestamp": "last week"},
        {"type": "track", "userId": "u1", "event": "x", "properties": {"n": 2**70}},
        {"type": "track", "userId": "u1", "event": "x", "context": ["web"]},
        {"type": "page", "userId": "u1", "properties": [1]},
        {**GOOD, "messageId": "good-2"},
    ]
    with serve() as url:
        answer = httpx.post(f"{url}/v1/batch", json={"batch": batch}, auth=AUTH)
    assert answer.status_code == 200
    body = answer.json()
    assert (body["accepted"], body["duplicates"]) == (2, 0)
    assert [r["index"] for r in body["rejected"]] == list(range(1, 10))
    kept = store.rejected_events()
    assert [e.kind for e in kept] == [
        "not-an-object",
        "type",
        "customer-id",
        "event-name",
        "field-not-an-object",
        "timestamp",
        "integer-range",
        "field-not-an-object",
        "field-not-an-object",
    ]
    assert {e.source for e in kept} == {"http"}
    assert [json.loads(e.raw) for e in kept] == batch[1:10]  # as sent
    assert [i.message_id for i in inbox.take(10)] == ["good-1", "good-2"]


def test_a_bad_single_call_is_400_with_its_reason_and_kept(
    serve: Serve, inbox: Inbox, store: SqlStore
) -> None:
    with serve() as url:
        body = refused(
            httpx.post(f"{url}/v1/track", json={"event": "x"}, auth=AUTH), 400, "customer-id"
        )
    assert "userId" in body["message"]
    assert inbox.depth() == 0
    assert [e.kind for e in store.rejected_events()] == ["customer-id"]


@pytest.mark.parametrize("path", ["/v1/batch", "/v1/track"])
def test_basic_auth_and_body_key_are_both_taken(serve: Serve, path: str) -> None:
    body: dict[str, Any] = {"batch": [call(1)]} if path == "/v1/batch" else call(1)
    with serve(write_keys=["other-key", KEY]) as url:
        assert httpx.post(f"{url}{path}", json=body, auth=AUTH).status_code == 200
        assert httpx.post(f"{url}{path}", json={**body, "writeKey": KEY}).status_code == 200
