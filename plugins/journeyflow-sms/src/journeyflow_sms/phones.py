"""One phone number per recipient, in E.164, checked by `phonenumbers`.

A recipient comes from data a customer may control (their `phone` trait).
`phonenumbers.parse` is lenient by design: it finds a number inside text
("call +1 650 253 0000 now") and takes the first of a list. So the value
may only hold what a written phone number has (digits, one leading `+`,
spaces, `-`, `.`, `(`, `)`), and must then parse to a *valid* number, which
is sent in E.164 (`+16502530000`): one number, one format, whatever the
customer typed.

Reasons quote the value cut short and escaped: a reason becomes a log line
and `outbox.last_error`.
"""

from __future__ import annotations

import re

import phonenumbers

__all__ = ["MAX_PHONE", "PhoneError", "check_region", "e164", "shown"]

MAX_PHONE = 32  # E.164 is at most 15 digits; room for spaces and punctuation
_SHOWN = 24  # characters of a bad value quoted in a reason
_WRITTEN = re.compile(r"\+?[0-9 ().\-]+")  # ASCII digits only: no look-alikes


class PhoneError(ValueError):
    """A value that is not one valid phone number; the message names where
    it came from and what is wrong."""


def shown(value: str) -> str:
    """A bad value as a reason may quote it: escaped, and cut short."""
    if len(value) <= _SHOWN:
        return repr(value)
    return f"{value[:_SHOWN]!r}… ({len(value)} characters)"


def check_region(region: str | None, setting: str) -> str | None:
    """A default region (`FR`, `US`) for numbers written without `+`, upper-cased,
    or PhoneError naming the setting when phonenumbers does not know it."""
    if region is None:
        return None
    code = region.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise PhoneError(
            f"{setting} must be a two-letter region phonenumbers knows (FR, US, GB...), "
            f"not {shown(region)}"
        )
    return code


def e164(value: object, where: str, region: str | None = None) -> str:
    """`value` as one valid number in E.164, or PhoneError.

    :param where: where the value came from, for the reason (`data.to`)
    :param region: how to read a number without `+` (None: it must have one)
    """
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # a trait stored as a number
    if not isinstance(value, str):
        raise PhoneError(f"{where}: one phone number as a string, not {type(value).__name__}")
    if not value.strip():
        raise PhoneError(f"{where}: an empty phone number")
    if len(value) > MAX_PHONE:
        raise PhoneError(
            f"{where}: longer than {MAX_PHONE} characters for a phone number ({shown(value)})"
        )
    if not _WRITTEN.fullmatch(value.strip()):
        raise PhoneError(
            f"{where}: characters a phone number does not have (letters, ',', ';', "
            f"line breaks...; one number, digits and an optional leading '+') ({shown(value)})"
        )
    if region is None and not value.strip().startswith("+"):
        raise PhoneError(
            f"{where}: a number without a country code needs a leading '+' "
            f"(or set JOURNEYFLOW_SMS_REGION) ({shown(value)})"
        )
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise PhoneError(f"{where}: not a phone number ({shown(value)}): {exc}") from None
    if not phonenumbers.is_valid_number(number):
        raise PhoneError(f"{where}: not a valid phone number ({shown(value)})")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
