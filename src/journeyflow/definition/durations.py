"""Durations as journey authors write them: `30m`, `2h`, `14d`, `2w`, or ISO-8601."""

from __future__ import annotations

import re
from datetime import timedelta

from journeyflow.exceptions import DurationError

_SHORT = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
# ISO-8601 durations without years and months: those have no fixed length, so a
# timer of "P1M" would be ambiguous; authors use `at:` with a date helper instead.
_ISO = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)

HELP = "write a number and a unit (30m, 2h, 14d, 2w) or ISO-8601 (P14D, PT2H)"


def parse_duration(text: str) -> timedelta:
    """Parse a duration; raise DurationError saying how to write one."""
    if not isinstance(text, str):
        raise DurationError(f"a duration must be a string, not {type(text).__name__}: {HELP}")
    m = _SHORT.match(text)
    if m:
        return timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    m = _ISO.match(text.strip())
    if m and text.strip() not in ("P", "PT") and not text.strip().endswith("T"):
        parts = {k: float(v) for k, v in m.groupdict().items() if v is not None}
        if parts:
            return timedelta(**parts)
    if re.match(r"^P.*[YM].*", text.strip()) and "T" not in text.split("M")[0]:
        raise DurationError(
            f"{text!r}: years and months have no fixed length; use days or weeks, "
            "or an `at:` timer with a date helper such as month_end(now)"
        )
    raise DurationError(f"{text!r} is not a duration: {HELP}")


def format_duration(delta: timedelta) -> str:
    """The shortest `14d`-style spelling of a duration (for diagrams and tables)."""
    seconds = int(delta.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
