"""Each limit of `events/limits.py` at its boundary: at the limit an event is
accepted, one past it rejected with a reason of its kind. Plus the shapes the
attackers found: ids as numbers, fields that must be objects, text no
database keeps, numbers JSON has no form for."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
import pytest

from journeyflow.events import Event, Invalid, Kind, check_event, limits, parse_event
from journeyflow.exceptions import EventError

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


def event(**fields: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "type": "track",
        "userId": "c1",
        "event": "order_completed",
        "timestamp": "2026-06-01T10:00:00Z",
        "messageId": "m1",
    }
    raw.update(fields)
    return {k: v for k, v in raw.items() if v is not ...}


def accepted(raw: Any, **options: Any) -> Event:
    checked = check_event(raw, NOW, **options)
    assert isinstance(checked, Event), checked
    return checked


def rejected(raw: Any, kind: Kind, **options: Any) -> str:
    checked = check_event(raw, NOW, **options)
    assert isinstance(checked, Invalid), checked
    assert checked.kind == kind, checked
    return checked.reason


def nested(levels: int) -> dict[str, Any]:
    """An event whose properties nest so that the event has `levels` levels."""
    inner: dict[str, Any] = {"leaf": 1}
    for _ in range(levels - 2):  # the event is level 1, properties level 2
        inner = {"a": inner}
    return event(properties=inner)


# --- lengths: the String(255) columns ------------------------------------------------


@pytest.mark.parametrize("field", ["userId", "anonymousId"])
def test_a_customer_id_of_255_characters_is_accepted_256_rejected(field: str) -> None:
    extra = {"userId": ...} if field == "anonymousId" else {}
    assert accepted(event(**extra, **{field: "u" * 255})).customer_id == "u" * 255
    reason = rejected(event(**extra, **{field: "u" * 256}), Kind.CUSTOMER_ID)
    assert f"'{field}' is 256 characters long; at most 255" in reason


def test_a_message_id_of_255_characters_is_accepted_256_rejected() -> None:
    assert accepted(event(messageId="m" * 255)).message_id == "m" * 255
    assert "at most 255" in rejected(event(messageId="m" * 256), Kind.MESSAGE_ID)


def test_an_event_name_of_255_characters_is_accepted_256_rejected() -> None:
    assert accepted(event(event="e" * 255)).name == "e" * 255
    assert "at most 255" in rejected(event(event="e" * 256), Kind.EVENT_NAME)


def test_lengths_are_counted_in_characters_as_postgresql_counts() -> None:
    assert accepted(event(userId="é" * 255)).customer_id == "é" * 255  # 510 bytes


# --- depth and size ------------------------------------------------------------------------


def test_32_levels_of_nesting_are_accepted_33_rejected() -> None:
    accepted(nested(limits.MAX_DEPTH))
    reason = rejected(nested(limits.MAX_DEPTH + 1), Kind.TOO_DEEP)
    assert "33 levels deep" in reason and "at most 32" in reason


def test_lists_count_as_levels_too() -> None:
    inner: Any = [1]
    for _ in range(limits.MAX_DEPTH - 3):
        inner = [inner]
    accepted(event(properties={"x": inner}))  # event 1, properties 2, lists 3..32
    rejected(event(properties={"x": [inner]}), Kind.TOO_DEEP)


def test_nesting_far_past_any_recursion_limit_is_a_reason_not_a_crash() -> None:
    inner: dict[str, Any] = {}
    for _ in range(100_000):
        inner = {"a": inner}
    rejected(event(properties=inner), Kind.TOO_DEEP)


def _sized(size: int) -> dict[str, Any]:
    raw = event(properties={"pad": ""})
    base = len(orjson.dumps(raw))
    raw["properties"]["pad"] = "x" * (size - base)
    assert len(orjson.dumps(raw)) == size
    return raw


def test_an_event_of_32_kib_as_json_is_accepted_one_byte_more_rejected() -> None:
    accepted(_sized(limits.MAX_EVENT_BYTES))
    reason = rejected(_sized(limits.MAX_EVENT_BYTES + 1), Kind.TOO_BIG)
    assert "32,769 bytes as JSON; at most 32,768" in reason


# --- numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize("edge", [limits.MAX_INTEGER, limits.MIN_INTEGER])
def test_64_bit_integers_are_accepted_one_past_rejected(edge: int) -> None:
    assert accepted(event(properties={"n": edge})).properties["n"] == edge
    past = edge + 1 if edge > 0 else edge - 1
    assert "beyond 64 bits" in rejected(event(properties={"n": past}), Kind.INTEGER_RANGE)


def test_an_integer_of_5000_digits_is_a_reason_not_a_crash() -> None:
    reason = rejected(event(properties={"n": 10**5000}), Kind.INTEGER_RANGE)
    assert "about 5,001 digits" in reason


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_numbers_that_are_not_finite_are_rejected(value: float) -> None:
    assert "must be finite" in rejected(event(properties={"v": [value]}), Kind.NOT_FINITE)
    accepted(event(properties={"v": [1.7976931348623157e308]}))  # the largest finite


# --- text -----------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["userId", "event", "messageId"])
@pytest.mark.parametrize(("bad", "said"), [("\ud800", "lone UTF-16 surrogate"), ("\x00", "NUL")])
def test_text_with_a_nul_or_a_lone_surrogate_is_rejected_wherever_it_is(
    field: str, bad: str, said: str
) -> None:
    reason = rejected(event(**{field: f"a{bad}b"}), Kind.BAD_TEXT)
    assert said in reason and f"'{field}'" in reason
    reason = rejected(event(properties={"deep": [{f"k{bad}": 1}]}), Kind.BAD_TEXT)
    assert "a key at 'properties.deep[0]'" in reason
    assert bad not in reason  # the reason itself is safe to store anywhere


def test_a_surrogate_pair_is_one_character_and_welcome() -> None:
    assert accepted(event(userId="emoji-😀")).customer_id == "emoji-😀"


# --- timestamps -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inside", "outside"),
    [
        ("1970-01-01T00:00:00Z", "1969-12-31T23:59:59.999999Z"),
        ("2200-12-31T23:59:59.999999Z", "2201-01-01T00:00:00Z"),
    ],
)
def test_timestamps_from_1970_through_2200_are_accepted(inside: str, outside: str) -> None:
    accepted(event(timestamp=inside))
    assert "outside the years 1970..2200" in rejected(event(timestamp=outside), Kind.TIMESTAMP)


@pytest.mark.parametrize(
    "moment", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "9999-12-31T00:00:00Z"]
)
def test_a_timestamp_whose_conversion_overflows_is_a_reason_not_a_crash(moment: str) -> None:
    rejected(event(timestamp=moment), Kind.TIMESTAMP)


def test_an_event_5_minutes_ahead_is_accepted_one_microsecond_more_rejected() -> None:
    skew = limits.DEFAULT_CLOCK_SKEW
    edge = (NOW + skew).isoformat()
    accepted(event(timestamp=edge), max_ahead=skew)
    past = (NOW + skew + timedelta(microseconds=1)).isoformat()
    reason = rejected(event(timestamp=past), Kind.AHEAD_OF_CLOCK, max_ahead=skew)
    assert "5 minutes ahead of the engine's clock" in reason
    accepted(event(timestamp="2030-01-01T00:00:00Z"))  # no skew asked for: any time in range
    accepted(event(timestamp="1999-01-01T00:00:00Z"), max_ahead=skew)  # late is fine


# --- ids and shapes ------------------------------------------------------------------------


@pytest.mark.parametrize(("given", "kept"), [(0, "0"), (12345, "12345"), (-7, "-7")])
def test_an_integer_user_id_becomes_its_decimal_text(given: int, kept: str) -> None:
    assert accepted(event(userId=given)).customer_id == kept


@pytest.mark.parametrize("given", [True, False, 1.5, [1], {"id": 1}])
def test_a_user_id_that_is_not_a_string_or_an_integer_is_rejected(given: Any) -> None:
    assert "must be a string or an integer" in rejected(event(userId=given), Kind.CUSTOMER_ID)


@pytest.mark.parametrize("field", ["context", "properties", "traits"])
@pytest.mark.parametrize("given", ["web", [], 3, True])
def test_context_properties_and_traits_must_be_objects(field: str, given: Any) -> None:
    reason = rejected(event(**{field: given}), Kind.NOT_AN_OBJECT_FIELD)
    assert f"'{field}' must be an object" in reason


def test_traits_may_come_in_context_and_must_be_an_object_there_too() -> None:
    raw = event(type="identify", event=..., context={"traits": {"plan": "pro"}})
    assert accepted(raw).traits == {"plan": "pro"}
    rejected(event(context={"traits": "pro"}), Kind.NOT_AN_OBJECT_FIELD)


def test_null_fields_are_absent_ones() -> None:
    found = accepted(event(properties=None, traits=None, context=None))
    assert found.properties == {} and found.traits == {}


def test_values_json_has_no_form_for_are_rejected() -> None:
    rejected(event(properties={"s": {1, 2}}), Kind.NOT_JSON_VALUE)
    rejected(event(properties={1: "key not a string"}), Kind.NOT_JSON_VALUE)
    rejected(["not", "an", "object"], Kind.NOT_AN_OBJECT)


def test_a_missing_message_id_is_derived_from_the_content_as_before() -> None:
    # the same digest as before these checks, so files ingested then are still repeats
    raw = event(messageId=...)
    digest = hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode())
    assert accepted(raw).message_id == "derived-" + digest.hexdigest()[:32]


def test_parse_event_raises_the_same_reason() -> None:
    with pytest.raises(EventError, match="'context' must be an object"):
        parse_event(event(context="web"), NOW)
