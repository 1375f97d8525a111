"""A call the HTTP ingest refused is kept as the check read it, and
`rejected replay` applies it once its cause is gone: a page call comes back
as its `page_viewed` track event, and no write key is ever kept."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import orjson

from journeyflow.clock import VirtualClock
from journeyflow.runtime.engine import Engine
from journeyflow.runtime.rejections import replay_rejected
from journeyflow.service.http.accept import SOURCE
from journeyflow.service.http.calls import replay_form
from journeyflow.store.sql import SqlStore
from tests.service.http.conftest import Serve
from tests.service.http.helpers import AUTH, KEY


def test_a_refused_page_call_is_replayed_as_its_track_event(serve: Serve, store: SqlStore) -> None:
    early = datetime.now(timezone.utc) + timedelta(hours=2)  # past the clock skew allowed
    call = {
        "userId": "ana",
        "name": "Pricing",
        "messageId": "p-1",
        "timestamp": early.isoformat(),
        "writeKey": KEY,
    }
    with serve() as url:
        answer = httpx.post(f"{url}/v1/page", json=call, auth=AUTH)
    assert answer.status_code == 400 or answer.json()["rejected"], answer.text
    kept = store.rejected_events(after=0, limit=10)
    assert [k.source for k in kept] == [SOURCE]
    raw = orjson.loads(kept[0].raw)
    assert raw["type"] == "page"  # the path's type, kept with the call
    assert "writeKey" not in raw and KEY.encode() not in kept[0].raw

    # the clock has caught up: a replay applies it as the track event journeys see
    engine = Engine([], store, VirtualClock(early + timedelta(minutes=1)))
    report = replay_rejected(engine, translate={SOURCE: replay_form})
    assert (report.applied, report.still_rejected) == (1, [])
    events = list(store.iter_events())
    assert [(e["event"], e["userId"], e["type"]) for e in events] == [
        ("page_viewed", "ana", "track")
    ]
    assert store.rejected_events(after=0, limit=10) == []
