"""Reading a request's body within its cap, gunzipped within the same cap.

The body is read a chunk at a time and refused (`413`) as soon as it passes
`max_bytes`, whatever its `Content-Length` claims; a gzipped body is
decompressed a bounded piece at a time and refused as soon as its output
passes `max_bytes`, so a gzip bomb (a few kilobytes that inflate to
gigabytes) costs at most the cap in memory, never the whole inflation.
"""

from __future__ import annotations

import asyncio
import zlib

from starlette.requests import Request

from journeyflow.service.http.responses import Refusal

_GZIP = zlib.MAX_WBITS | 16  # a gzip header and trailer, not a raw zlib stream


def too_large(max_bytes: int) -> Refusal:
    return Refusal(
        413,
        "request-too-large",
        f"the request body is larger than {max_bytes:,} bytes (after gunzip): "
        "send fewer events per request",
    )


READ_TIMEOUT_S = (
    30.0  # a body still arriving after this is a 408: a slow client holds no slot forever
)


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The raw body, at most `max_bytes` of it, or `413`; all of it within
    READ_TIMEOUT_S, or `408`."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > max_bytes:
        raise too_large(max_bytes)
    body = bytearray()
    try:
        async with asyncio.timeout(READ_TIMEOUT_S):
            async for chunk in request.stream():
                body += chunk
                if len(body) > max_bytes:
                    raise too_large(max_bytes)
    except TimeoutError:
        raise Refusal(
            408, "too-slow", f"the body did not arrive within {READ_TIMEOUT_S:.0f} s"
        ) from None
    return bytes(body)


def decoded(body: bytes, content_encoding: str | None, max_bytes: int) -> bytes:
    """The body as sent before compression: as is, or gunzipped within `max_bytes`."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("identity", ""):
        return body
    if encoding in ("gzip", "x-gzip"):
        return gunzip(body, max_bytes)
    raise Refusal(
        415,
        "unsupported-encoding",
        f"Content-Encoding {encoding[:40]!r} is not supported: send gzip or no encoding",
    )


def gunzip(body: bytes, max_bytes: int) -> bytes:
    """Decompress gzip (one member or several) to at most `max_bytes`, or `413`;
    a stream that is not gzip, or ends early, is a `400`."""
    out = bytearray()
    rest = body
    try:
        while True:
            inflater = zlib.decompressobj(_GZIP)
            data = rest
            while data:
                # never more than one byte past the cap: max_length is at least 1 here
                out += inflater.decompress(data, max_bytes + 1 - len(out))
                if len(out) > max_bytes:
                    raise too_large(max_bytes)
                data = inflater.unconsumed_tail
            if not inflater.eof:
                raise Refusal(400, "bad-gzip", "the gzip body ends before its end")
            rest = inflater.unused_data
            if not rest:
                return bytes(out)
    except zlib.error as exc:
        raise Refusal(400, "bad-gzip", f"the body is not valid gzip: {exc}") from None
