"""Credentials out of what is recorded: `redact_url` over any text.

A channel's answer ends up in the outbox's `last_error`, the log and the
delivery hooks, and channels quote the URL they tried (`http://bob:s3cret@host:
Name or service not known`). Whatever a URL carries besides where it goes is
taken for a secret: the userinfo (`user:password@`), every query-string value
(services put keys there under any name: `token`, `sig`, `key`, `code`...) and
the fragment (OAuth puts tokens there). The scheme, host, port and path stay,
so the message still says where delivery failed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["HIDDEN", "redact_secrets", "redact_url"]

HIDDEN = "***"

# secrets shorter than this are not replaced by value: replacing every "ab" in a
# message would mangle it and hide nothing worth hiding
_MIN_SECRET = 4

# scheme://, then anything up to whitespace or a quote/bracket that ends a URL in prose
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>`]+")
_TRAILING = ".,;:!)]}"  # prose punctuation after a URL, not part of it


def redact_url(text: str) -> str:
    """`text` with every URL in it stripped of userinfo, query values and
    fragment: `https://bob:pw@h.example/x?token=abc&v=2#t` becomes
    `https://***@h.example/x?token=***&v=***#***`. Text without URLs comes
    back unchanged."""
    return _URL.sub(_redact_match, text)


def redact_secrets(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`redact_url(text)`, with any of `secrets` (a channel's token, password or
    signing key) quoted in it replaced too: lower layers quote what they were
    given back in their errors."""
    for secret in secrets:
        if secret and len(secret) >= _MIN_SECRET:
            text = text.replace(secret, HIDDEN)
    return redact_url(text)


def _redact_match(match: re.Match[str]) -> str:
    url = match.group(0)
    kept = len(url.rstrip(_TRAILING))
    return _redact_one(url[:kept]) + url[kept:]


def _redact_one(url: str) -> str:
    scheme, _, rest = url.partition("://")
    # the authority ends where the path, query or fragment begins (as urlsplit reads it)
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, tail = rest[:end], rest[end:]
    _userinfo, at, host = authority.rpartition("@")
    if at:
        authority = f"{HIDDEN}@{host}"
    tail, hash_, fragment = tail.partition("#")
    path, question, query = tail.partition("?")
    if question and query:
        query = "&".join(_hide_value(part) for part in query.split("&"))
    if hash_ and fragment:
        fragment = HIDDEN
    return f"{scheme}://{authority}{path}{question}{query}{hash_}{fragment}"


def _hide_value(part: str) -> str:
    name, equals, value = part.partition("=")
    if not equals:
        return HIDDEN if name else name  # `?abcdef`: a bare token
    return f"{name}={HIDDEN}" if value else part
