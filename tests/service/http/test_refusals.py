"""Bad HTTP, over real HTTP (on a SQLite file): each refusal has the right status and a JSON
`{"code", "message"}` body, nothing is kept that should not be (nothing at all
for a sender without a valid key), and the server takes good events after."""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from journeyflow.store.sql import SqlStore
from journeyflow.store.sql.inbox import Inbox
from tests.service.http.conftest import KEY, Serve
from tests.service.http.helpers import AUTH, GOOD, refused, still_serves


@pytest.fixture
def url(tmp_path: Path) -> str:
    """HTTP's own refusals: a SQLite file is enough (both databases take the
    calls in test_ingest.py and test_clients.py)."""
    return f"sqlite:///{tmp_path / 'refusals.db'}"


def bomb(inflated: int) -> bytes:
    """A gzip stream of `inflated` zero bytes (about a thousandth of that in size)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = bytes(1 << 20)
    parts = [packer.compress(block) for _ in range(inflated >> 20)]
    return b"".join([*parts, packer.flush()])


@pytest.fixture(scope="module")
def big_bomb() -> bytes:
    return bomb(256 << 20)  # 256 MiB of zeros in ~260 KB


# --- who may send --------------------------------------------------------------------


def basic(user: str, password: str = "") -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"authorization": f"Basic {token}"}


@pytest.mark.parametrize(
    "headers,body_key",
    [
        ({}, None),  # no key at all
        (basic("wrong-key"), None),
        (basic("wrong-key"), KEY),  # a wrong header is not saved by the body
        ({}, "wrong-key"),
        ({}, 12345),  # not even a string
        ({"authorization": "Bearer " + KEY}, None),
        ({"authorization": "Basic !!!not-base64"}, None),
        (basic(""), None),
        (basic(KEY[:-1]), None),
        (basic(KEY + "x"), None),
    ],
)
def test_a_missing_or_wrong_key_is_401_and_keeps_nothing(
    serve: Serve, inbox: Inbox, store: SqlStore, headers: dict[str, str], body_key: Any
) -> None:
    body: dict[str, Any] = {"batch": [GOOD, {"type": "bad"}]}
    if body_key is not None:
        body["writeKey"] = body_key
    with serve() as url:
        refused(httpx.post(f"{url}/v1/batch", json=body, headers=headers), 401, "unauthorized")
        refused(httpx.post(f"{url}/v1/track", json=GOOD, headers=headers), 401, "unauthorized")
        still_serves(url)
    assert [i.message_id for i in inbox.take(10)] == ["after"]
    assert store.count_rejected() == 0


def test_without_a_header_invalid_json_is_401_not_400(serve: Serve) -> None:
    with serve() as url:  # no key could be read: the sender learns nothing more
        refused(httpx.post(f"{url}/v1/batch", content=b"{nope"), 401)


# --- sizes ---------------------------------------------------------------------------


def test_a_body_over_the_cap_is_413_declared_or_streamed(serve: Serve, inbox: Inbox) -> None:
    big = json.dumps({"batch": [GOOD] * 40_000}).encode()  # ~2.9 MB
    with serve(max_request_bytes=1 << 20) as url:
        refused(httpx.post(f"{url}/v1/batch", content=big, auth=AUTH), 413, "request-too-large")

        def chunks() -> Iterator[bytes]:  # no Content-Length: read until past the cap
            for start in range(0, len(big), 65536):
                yield big[start : start + 65536]

        refused(httpx.post(f"{url}/v1/batch", content=chunks(), auth=AUTH), 413)
        still_serves(url)
    assert inbox.depth() == 1


def test_a_gzip_bomb_is_413_and_the_server_lives(
    serve: Serve, inbox: Inbox, big_bomb: bytes
) -> None:
    headers = {"content-encoding": "gzip", "content-type": "application/json"}
    with serve() as url:  # 4 MiB cap; the body inflates to 256 MiB
        answer = httpx.post(f"{url}/v1/batch", content=big_bomb, headers=headers, auth=AUTH)
        refused(answer, 413, "request-too-large")
        still_serves(url)
    assert inbox.depth() == 1


def test_an_event_over_its_cap_is_rejected_in_a_batch_and_413_alone(
    serve: Serve, inbox: Inbox, store: SqlStore
) -> None:
    fat = {**GOOD, "messageId": "fat", "properties": {"blob": "x" * 5000}}
    with serve(max_event_bytes=4096) as url:
        answer = httpx.post(f"{url}/v1/batch", json={"batch": [GOOD, fat]}, auth=AUTH)
        assert answer.status_code == 200
        assert answer.json()["accepted"] == 1
        [rejected] = answer.json()["rejected"]
        assert rejected["index"] == 1 and "4,096" in rejected["reason"]
        refused(httpx.post(f"{url}/v1/track", json=fat, auth=AUTH), 413, "too-big")
    assert [i.message_id for i in inbox.take(10)] == ["good-1"]
    assert [e.kind for e in store.rejected_events()] == ["too-big"]  # kept once: same call


# --- what the body holds -----------------------------------------------------------------


@pytest.mark.parametrize(
    "content,code",
    [
        (b"{nope", "invalid-json"),
        (b"", "invalid-json"),
        (b'{"batch": [NaN]}', "invalid-json"),
        (b'{"batch": [1e999999]}', None),  # json reads an infinity: refused either way
        ('{"batch": []}'.encode("utf-16"), "invalid-json"),
        (b"\xff\xfe{}", "invalid-json"),
        (b"[1, 2]", "not-an-object"),
        (b'"a string"', "not-an-object"),
        (b'{"batch": {"type": "track"}}', "bad-batch"),
        (b'{"no": "batch"}', "bad-batch"),
        (b'{"batch": [], "context": "web"}', "bad-context"),
        (b'{"batch": [], "integrations": [1]}', "bad-integrations"),
        (b'{"batch": [], "sentAt": "yesterday"}', "bad-sent-at"),
        (b'{"batch": [], "sentAt": 17}', "bad-sent-at"),
        (b"[" * 100_000 + b"]" * 100_000, None),
    ],
)
def test_a_body_that_is_not_a_batch_is_400(
    serve: Serve, inbox: Inbox, store: SqlStore, content: bytes, code: str | None
) -> None:
    with serve() as url:
        answer = httpx.post(f"{url}/v1/batch", content=content, auth=AUTH)
        if code is None and answer.status_code == 200:  # an infinity inside a batch
            assert answer.json()["accepted"] == 0
        else:
            refused(answer, 400, code)
    assert inbox.depth() == 0


@pytest.mark.parametrize(
    "content,encoding,status,code",
    [
        (gzip.compress(b'{"batch": []}')[:-6], "gzip", 400, "bad-gzip"),  # cut short
        (b"not gzip at all", "gzip", 400, "bad-gzip"),
        (gzip.compress(b'{"batch": []}') + b"trailing", "gzip", 400, "bad-gzip"),
        (b'{"batch": []}', "br", 415, "unsupported-encoding"),
        (b'{"batch": []}', "gzip, gzip", 415, "unsupported-encoding"),
    ],
)
def test_bad_encodings(serve: Serve, content: bytes, encoding: str, status: int, code: str) -> None:
    with serve() as url:
        answer = httpx.post(
            f"{url}/v1/batch", content=content, headers={"content-encoding": encoding}, auth=AUTH
        )
        refused(answer, status, code)
        still_serves(url)


def test_two_gzip_members_are_one_body(serve: Serve, inbox: Inbox) -> None:
    text = json.dumps({"batch": [GOOD, {**GOOD, "messageId": "good-2"}]}).encode()
    half = len(text) // 2
    content = gzip.compress(text[:half]) + gzip.compress(text[half:])
    with serve() as url:
        answer = httpx.post(
            f"{url}/v1/batch", content=content, headers={"content-encoding": "gzip"}, auth=AUTH
        )
    assert answer.json()["accepted"] == 2


# --- back-pressure, and paths that are not the ingest ------------------------------------


def test_an_inbox_past_its_limit_is_429_with_retry_after(serve: Serve, inbox: Inbox) -> None:
    batch = [{**GOOD, "messageId": f"m{i}"} for i in range(3)]
    with serve(max_inbox=2, retry_after=7) as url:
        assert httpx.post(f"{url}/v1/batch", json={"batch": batch}, auth=AUTH).status_code == 200
        answer = httpx.post(f"{url}/v1/track", json={**GOOD, "messageId": "late"}, auth=AUTH)
        refused(answer, 429, "inbox-full")
        assert answer.headers["retry-after"] == "7"
        inbox.done([i.seq for i in inbox.take(3)])  # applied: room again
        answer = httpx.post(f"{url}/v1/track", json={**GOOD, "messageId": "late"}, auth=AUTH)
        assert answer.status_code == 200
    assert [i.message_id for i in inbox.take(10)] == ["late"]


def test_other_paths_and_methods_answer_json(serve: Serve) -> None:
    with serve() as url:
        refused(httpx.get(f"{url}/v1/batch"), 405, "method-not-allowed")
        refused(httpx.post(f"{url}/v1/purchase", json={}, auth=AUTH), 404, "not-found")
        refused(httpx.get(f"{url}/"), 404)


def test_a_write_key_is_required_to_build_the_app(inbox: Inbox) -> None:
    from journeyflow.service.http import create_app

    with pytest.raises(ValueError, match="write key"):
        create_app(inbox, write_keys=[])
