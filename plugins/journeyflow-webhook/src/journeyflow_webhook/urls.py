"""Which URLs a webhook may be posted to, and its credentials kept apart.

Only `http://` and `https://` URLs with a host: `urllib` would otherwise
happily open `file:`, `ftp:` or `data:` URLs, and a URL can come from a
send's data. Spaces, line breaks and control characters are refused rather
than left to the HTTP layer, which would quote or reject them in a message
that carries the whole URL.

A URL's userinfo (`https://user:password@host/hook`) is sent as HTTP Basic
authentication, and the URL is posted to without it: urllib does not read
userinfo itself (it would look up `user:password@host` as the host name and
put the whole URL in its error).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit, urlunsplit

from journeyflow.delivery import HIDDEN as MASK
from journeyflow.delivery import redact_url

__all__ = ["MAX_URL", "Target", "UrlError", "parse_target", "shown"]

SCHEMES = frozenset({"http", "https"})
MAX_URL = 2048  # what browsers and most servers accept; longer is a mistake or an attack
_SHOWN = 80  # characters of a bad URL quoted in a reason


class UrlError(ValueError):
    """A URL a webhook cannot be posted to; the message names where it came
    from and shows it redacted and truncated."""


@dataclass(frozen=True)
class Target:
    """Where to post: the URL without userinfo, and the Basic credentials
    that were in it (kept out of repr)."""

    url: str
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)

    def headers(self) -> dict[str, str]:
        """`Authorization: Basic ...` when the URL carried credentials."""
        if self.username is None:
            return {}
        pair = f"{self.username}:{self.password or ''}".encode()
        return {"Authorization": f"Basic {base64.b64encode(pair).decode()}"}

    def __repr__(self) -> str:
        return f"Target(url={shown(self.url)}, credentials={self.username is not None})"

    def secrets(self) -> tuple[str | None, ...]:
        return (self.username, self.password)


def shown(value: str) -> str:
    """A bad URL as a reason may quote it: redacted, truncated, escaped."""
    text = redact_url(value)
    if "@" in value and MASK not in text:  # an '@' the redaction could not place
        return "(not shown: it contains '@' and may hold credentials)"
    if len(text) > _SHOWN:
        return f"{text[:_SHOWN]!r}… ({len(value)} characters)"
    return repr(text)


def parse_target(value: object, where: str) -> Target:
    """`value` as a Target, or UrlError naming `where` (a setting, `data.url`)."""
    if not isinstance(value, str):
        raise UrlError(f"{where} must be a URL string, not {type(value).__name__}")
    if len(value) > MAX_URL:
        raise UrlError(f"{where} is longer than {MAX_URL} characters: {shown(value)}")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise UrlError(f"{where} contains a space, line break or control character: {shown(value)}")
    try:
        parts = urlsplit(value)
        port_ok = parts.port is None or parts.port > 0
    except ValueError as exc:  # a bad port, unbalanced IPv6 brackets
        raise UrlError(f"{where} is not a valid URL ({exc}): {shown(value)}") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        what = f"{scheme[:20]}:" if scheme else "a URL without a scheme"
        raise UrlError(f"{where} must be an http:// or https:// URL, not {what} ({shown(value)})")
    if not parts.hostname:
        raise UrlError(f"{where} has no host: {shown(value)}")
    if not port_ok:
        raise UrlError(f"{where} has port 0: {shown(value)}")
    userinfo, _, hostport = parts.netloc.rpartition("@")
    url = urlunsplit((scheme, hostport, parts.path, parts.query, parts.fragment))
    if not userinfo:
        return Target(url)
    username, _, password = userinfo.partition(":")
    return Target(url, unquote(username), unquote(password))
