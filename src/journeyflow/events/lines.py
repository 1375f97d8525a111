"""Reading JSON lines: each line on its own, whatever the others hold.

`read_lines` takes a binary stream and yields one `Line` per non-blank line:
the JSON it held, or the problem that kept it from being read (not UTF-8, not
JSON, longer than `limits.MAX_LINE_BYTES`). Nothing in one line can stop the
stream, and a line is never held in memory past that length.

JSON is read by orjson (fast, and strict: no NaN, no lone surrogates). orjson
turns an integer beyond 64 bits into a float, silently; a line with a run of
19 or more digits is read by the standard library instead, which keeps
integers whole, so `check_event` can refuse the ones that do not fit. A line
orjson refuses is read again the same way, for a reason a person can act on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import orjson

from journeyflow.events import limits
from journeyflow.events.validation import Invalid, Kind

# 18 digits always fit in 64 bits; a run of 19 may not. Found by mapping every
# digit to 0 and looking for nineteen of them: several times faster than a regex.
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_NINETEEN_DIGITS = b"0" * 19
_BOM = b"\xef\xbb\xbf"
_MAX_INTEGER_DIGITS = 40  # read past this, an integer is refused before Python converts it


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a JSON-lines input: where it was, its bytes (without the line
    end), and the JSON it held or why it could not be read."""

    number: int  # 1-based
    text: bytes
    value: Any = None
    problem: Invalid | None = None


def read_lines(stream: IO[bytes], max_bytes: int = limits.MAX_LINE_BYTES) -> Iterator[Line]:
    """Each non-blank line of `stream`, read."""
    number = 0
    while True:
        chunk = stream.readline(max_bytes + 1)
        if not chunk:
            return
        number += 1
        if len(chunk) > max_bytes and not chunk.endswith(b"\n"):
            length = len(chunk) + _skip_rest(stream)
            yield Line(
                number,
                chunk,
                problem=Invalid(
                    Kind.LINE_TOO_LONG,
                    f"the line is {length:,} bytes long; a line holds at most "
                    f"{max_bytes:,} bytes (and an event {limits.MAX_EVENT_BYTES:,})",
                ),
            )
            continue
        text = chunk.rstrip(b"\r\n")
        if number == 1 and text.startswith(_BOM):
            text = text[len(_BOM) :]
        if text.strip():
            yield read_line(text, number)


def _skip_rest(stream: IO[bytes]) -> int:
    """Read past the end of an overlong line, a block at a time; how many bytes."""
    skipped = 0
    while True:
        block = stream.readline(1 << 16)
        skipped += len(block)
        if not block or block.endswith(b"\n"):
            return skipped


def read_line(text: bytes, number: int = 1) -> Line:
    """One line's JSON, or why it has none."""
    if _NINETEEN_DIGITS not in text.translate(_DIGITS_TO_ZERO):
        try:
            return Line(number, text, orjson.loads(text))
        except orjson.JSONDecodeError:
            pass  # read again below, for the reason
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = text[exc.start : exc.start + 1].hex()
        return Line(
            number,
            text,
            problem=Invalid(
                Kind.NOT_UTF8,
                f"the line is not UTF-8: byte {exc.start + 1} is 0x{bad} (save the file as UTF-8)",
            ),
        )
    try:
        value = json.loads(decoded, parse_int=_integer, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        return Line(
            number,
            text,
            problem=Invalid(
                Kind.NOT_JSON, f"the line is not JSON: {exc.msg} at column {exc.colno}"
            ),
        )
    except _Refused as exc:
        return Line(number, text, problem=exc.invalid)
    except RecursionError:
        return Line(
            number,
            text,
            problem=Invalid(
                Kind.TOO_DEEP,
                f"the line nests objects and lists too deep to read; events nest at most "
                f"{limits.MAX_DEPTH} levels",
            ),
        )
    return Line(number, text, value)


class _Refused(Exception):
    def __init__(self, invalid: Invalid) -> None:
        super().__init__(invalid.reason)
        self.invalid = invalid


def _integer(text: str) -> int:
    # Python itself refuses to convert more than 4,300 digits, with a ValueError
    # the reader would not expect; past 40 no integer fits anyway
    digits = len(text.lstrip("-"))
    if digits > _MAX_INTEGER_DIGITS:
        raise _Refused(
            Invalid(
                Kind.INTEGER_RANGE,
                f"an integer of {digits:,} digits, beyond 64 bits "
                f"({limits.MIN_INTEGER} .. {limits.MAX_INTEGER}): send it as a string",
            )
        )
    return int(text)


def _constant(text: str) -> float:
    raise _Refused(
        Invalid(Kind.NOT_FINITE, f"{text} is not a number JSON has: numbers must be finite")
    )
