"""Reading JSON lines: each line read on its own, whatever the others hold,
and whatever a line holds a reason, never an exception."""

from __future__ import annotations

import io

import pytest

from journeyflow.events import Kind
from journeyflow.events.lines import Line, read_line, read_lines


def lines(data: bytes, **options: int) -> list[Line]:
    return list(read_lines(io.BytesIO(data), **options))


def test_each_line_is_read_on_its_own_with_its_number() -> None:
    found = lines(b'{"a": 1}\n\nnot json\n  \n\xff\xfe\n{"b": 2}\r\n{"c": 3}')
    assert [(x.number, x.value, x.problem and x.problem.kind) for x in found] == [
        (1, {"a": 1}, None),
        (3, None, Kind.NOT_JSON),
        (5, None, Kind.NOT_UTF8),
        (6, {"b": 2}, None),
        (7, {"c": 3}, None),
    ]
    assert found[2].text == b"\xff\xfe"  # the bytes as they came, for the dead-letter table


def test_a_byte_order_mark_on_the_first_line_is_not_part_of_the_json() -> None:
    assert lines(b'\xef\xbb\xbf{"a": 1}\n')[0].value == {"a": 1}


def test_invalid_utf8_says_which_byte() -> None:
    problem = read_line(b'{"event": "caf\xe9"}').problem
    assert problem is not None and "byte 15 is 0xe9" in problem.reason


@pytest.mark.parametrize(
    ("text", "kind", "said"),
    [
        (b'{"v": NaN}', Kind.NOT_FINITE, "NaN"),
        (b'{"v": -Infinity}', Kind.NOT_FINITE, "-Infinity"),
        (b'{"v": 1' + b"0" * 5000 + b"}", Kind.INTEGER_RANGE, "5,001 digits"),
        (b'{"a": ' * 100_000 + b"1" + b"}" * 100_000, Kind.TOO_DEEP, "too deep"),
        (b'{"a": 1', Kind.NOT_JSON, "not JSON"),
    ],
)
def test_what_json_readers_choke_on_is_a_reason(text: bytes, kind: Kind, said: str) -> None:
    problem = read_line(text).problem
    assert problem is not None and problem.kind == kind and said in problem.reason


def test_integers_past_64_bits_are_read_whole_for_the_check_to_refuse() -> None:
    # orjson would hand back 1e+19 as a float; the line is read so the integer stays one
    assert read_line(b'{"n": 10000000000000000000}').value == {"n": 10**19}
    assert read_line(b'{"n": 9223372036854775807}').value == {"n": 2**63 - 1}
    assert read_line(b'{"phone": "0123456789012345678901"}').value == {
        "phone": "0123456789012345678901"
    }


def test_a_lone_surrogate_escape_is_read_for_the_check_to_refuse() -> None:
    assert read_line(b'{"userId": "\\ud800"}').value == {"userId": "\ud800"}


def test_a_line_past_the_limit_is_refused_unread_and_the_next_one_read() -> None:
    data = b'{"pad": "' + b"x" * 5000 + b'"}\n{"b": 2}\n'
    found = lines(data, max_bytes=1000)
    assert found[0].problem is not None and found[0].problem.kind == Kind.LINE_TOO_LONG
    assert "5,012 bytes long" in found[0].problem.reason
    assert len(found[0].text) == 1001  # never held whole
    assert (found[1].number, found[1].value) == (2, {"b": 2})


def test_a_line_exactly_at_the_limit_is_read() -> None:
    line = b'{"pad": "' + b"x" * 989 + b'"}'
    assert len(line) == 1000
    assert lines(line + b"\n", max_bytes=1000)[0].value == {"pad": "x" * 989}
