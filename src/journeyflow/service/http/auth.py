"""Write keys: who may send events.

A client presents its write key as the user of HTTP Basic auth (Segment's and
RudderStack's clients both do, with an empty password, which is not looked
at) or as the body's `writeKey` (Segment's client puts it there too). A key
is compared with every configured key in constant time, over digests of
equal length, so neither a key's content nor its length nor which key
matched shows in the time an answer takes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable


class WriteKeys:
    """The keys a client may present; at least one."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._digests = [_digest(key) for key in keys if key]
        if not self._digests:
            raise ValueError("the HTTP ingest needs at least one write key")

    def __contains__(self, candidate: object) -> bool:
        if not isinstance(candidate, str):
            return False
        given = _digest(candidate)
        found = False
        for digest in self._digests:  # every key compared, whichever matches
            found |= hmac.compare_digest(given, digest)
        return found


def basic_user(authorization: str | None) -> str | None:
    """The user of an HTTP Basic `Authorization` header; None when there is no
    such header or it cannot be read (another scheme, bad base64)."""
    if authorization is None:
        return None
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    user, _, _password = decoded.partition(":")
    return user


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
