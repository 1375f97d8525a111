"""The ingest's parts on their own: gunzip within a cap (memory measured),
Basic auth and write keys, and Segment's clock correction."""

from __future__ import annotations

import base64
import gzip
import tracemalloc
import zlib
from datetime import datetime, timedelta, timezone

import pytest

from journeyflow.service.http.auth import WriteKeys, basic_user
from journeyflow.service.http.body import gunzip
from journeyflow.service.http.calls import Envelope, corrected, merged
from journeyflow.service.http.responses import Refusal

MiB = 1 << 20


def test_a_gzip_bomb_stops_at_the_cap_in_memory() -> None:
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    bomb = b"".join([*(packer.compress(bytes(MiB)) for _ in range(512)), packer.flush()])
    tracemalloc.start()
    try:
        with pytest.raises(Refusal) as refused:
            gunzip(bomb, 4 * MiB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refused.value.status == 413
    assert peak < 16 * MiB  # 512 MiB inflated would be; the cap (and a copy) is what is held


@pytest.mark.parametrize("size", [0, 1, 4 * MiB])
def test_gunzip_up_to_the_cap_gives_the_body_back(size: int) -> None:
    body = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    assert gunzip(gzip.compress(body), 4 * MiB) == body


def test_one_byte_past_the_cap_is_413() -> None:
    with pytest.raises(Refusal) as refused:
        gunzip(gzip.compress(b"x" * (MiB + 1)), MiB)
    assert refused.value.status == 413


def basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "header,user",
    [
        (None, None),
        (basic("key:"), "key"),
        (basic("key:secret"), "key"),  # the password is not looked at
        (basic("key"), "key"),
        (basic(":"), ""),
        ("basic " + base64.b64encode(b"k:").decode(), "k"),
        ("Bearer abc", None),
        ("Basic", None),
        ("Basic ***", None),
        ("Basic " + base64.b64encode(b"\xff:").decode(), None),
    ],
)
def test_basic_user(header: str | None, user: str | None) -> None:
    assert basic_user(header) == user


def test_write_keys() -> None:
    keys = WriteKeys(["alpha", "beta", ""])
    assert "alpha" in keys and "beta" in keys
    assert "" not in keys and "alph" not in keys and "alphaa" not in keys
    assert None not in keys and 5 not in keys and "\ud800" not in keys
    with pytest.raises(ValueError):
        WriteKeys([""])


T = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def test_segments_clock_correction() -> None:
    envelope = Envelope(received_at=T, sent_at=T - timedelta(hours=2))
    raw = {"timestamp": "2026-03-01T09:55:00Z"}
    corrected(raw, envelope)
    assert raw["timestamp"] == "2026-03-01T11:55:00+00:00"  # 5 minutes before it was received
    assert raw["originalTimestamp"] == "2026-03-01T09:55:00Z"
    assert raw["receivedAt"] == T.isoformat()


def test_without_sent_at_or_a_date_the_timestamp_stays() -> None:
    for envelope, value in (
        (Envelope(received_at=T, sent_at=None), "2026-01-01T00:00:00Z"),
        (Envelope(received_at=T, sent_at=T), "not a date"),
        (Envelope(received_at=T, sent_at=T - timedelta(days=1)), "9999-12-31T23:59:59+00:00"),
    ):
        raw = {"timestamp": value}
        corrected(raw, envelope)
        assert raw["timestamp"] == value and "originalTimestamp" not in raw


def test_the_batch_context_goes_under_the_calls_own() -> None:
    envelope = Envelope(
        received_at=T, sent_at=None, context={"a": 1, "b": 1}, integrations={"All": True}
    )
    assert merged({"context": {"b": 2}, "writeKey": "k"}, envelope) == {
        "context": {"a": 1, "b": 2},
        "integrations": {"All": True},
    }
    assert merged({"context": "web"}, envelope)["context"] == "web"  # refused later, as sent
