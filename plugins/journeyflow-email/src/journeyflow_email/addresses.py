"""One e-mail address per recipient, and one well-formed From.

A recipient comes from data a customer may control (their `email` trait).
Handed to the message as it is, `me@x, victim1@y` is two recipients, `Bob
<victim@y>` is someone else's mailbox, and a line break starts a new
header. So a recipient must be exactly one bare address (`local@domain`),
checked by email-validator (the RFC 5321/5322 rules, internationalised
domains) with deliverability checks off: no DNS look-ups at send time.

The tricks get their own reasons, checked before the library, so the
failure says what was wrong rather than which character was unexpected.
Reasons quote the value cut short and escaped: a reason becomes a log line
and `outbox.last_error`, and a crafted value must not fill or forge either.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.headerregistry import Address

from email_validator import EmailNotValidError, validate_email

__all__ = ["AddressError", "Mailbox", "mailbox", "recipient", "shown"]

MAX_ADDRESS = 254  # RFC 5321's limit on a path, less the angle brackets
_SHOWN = 32  # characters of a bad value quoted in a reason


class AddressError(ValueError):
    """A value that is not one usable address; the message names where it
    came from and what is wrong."""


@dataclass(frozen=True)
class Mailbox:
    """A checked address: `address` for the SMTP envelope, `header` for the
    From/To header (with the display name, properly quoted)."""

    address: str
    header: str


def shown(value: str) -> str:
    """A bad value as a reason may quote it: escaped, and cut short."""
    if len(value) <= _SHOWN:
        return repr(value)
    return f"{value[:_SHOWN]!r}… ({len(value)} characters)"


def _no_line_breaks(value: str, where: str) -> None:
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F or ch in "\u2028\u2029\x85" for ch in value):
        raise AddressError(
            f"{where}: a line break or control character in an e-mail address ({shown(value)})"
        )


def _tricks(value: str, where: str) -> None:
    """Reject what would smuggle in another recipient or header."""
    _no_line_breaks(value, where)
    if len(value) > MAX_ADDRESS:
        raise AddressError(
            f"{where}: an e-mail address longer than {MAX_ADDRESS} characters ({shown(value)})"
        )
    if value.count("@") > 1 or any(sep in value for sep in ",;"):
        raise AddressError(
            f"{where}: several addresses where one is allowed "
            f"(',', ';' or a second '@') ({shown(value)})"
        )
    if any(ch in value for ch in '<>"'):
        raise AddressError(
            f"{where}: a display name, angle brackets or quotes; give the bare "
            f"address (name@example.com) ({shown(value)})"
        )
    if ":" in value:
        raise AddressError(f"{where}: group syntax (':') in an e-mail address ({shown(value)})")


def _validate(value: str, where: str, *, display_name: bool) -> tuple[str, str]:
    """(normalised address, display name) by email-validator, every option
    spelled out so a process-wide default cannot loosen it."""
    try:
        checked = validate_email(
            value,
            allow_smtputf8=True,
            allow_empty_local=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
            allow_display_name=display_name,
            strict=True,  # the 64-character limit on the local part too
            check_deliverability=False,  # no DNS: nothing may block or leak at send time
            globally_deliverable=True,  # no `localhost`, `.test`, `.invalid`...
            test_environment=False,
        )
    except EmailNotValidError as exc:
        raise AddressError(f"{where}: not a valid e-mail address ({shown(value)}): {exc}") from None
    # the ASCII form (IDNA domain) when there is one: any SMTP server takes
    # it, where a Unicode domain needs the server's SMTPUTF8 extension
    return checked.ascii_email or checked.normalized, checked.display_name or ""


def recipient(value: object, where: str) -> str:
    """`value` as exactly one bare address, normalised, or AddressError.

    :param where: where the value came from, for the reason (`data.to`)
    """
    if not isinstance(value, str):
        raise AddressError(f"{where}: one e-mail address as a string, not {type(value).__name__}")
    if not value.strip():
        raise AddressError(f"{where}: an empty e-mail address")
    _tricks(value, where)
    return _validate(value, where, display_name=False)[0]


def mailbox(value: str, where: str) -> Mailbox:
    """A configured sender, `hello@example.com` or `Salon <hello@example.com>`:
    one mailbox, a display name allowed, or AddressError naming `where`.
    Operator configuration, not customer data: a quoted display name may hold
    a comma, and email-validator alone refuses a second address or a group."""
    if not value.strip():
        raise AddressError(f"{where}: an empty e-mail address")
    _no_line_breaks(value, where)
    address, name = _validate(value.strip(), where, display_name=True)
    return Mailbox(address, str(Address(display_name=name, addr_spec=address)))
