"""Credentials out of every message the plugin produces.

A reason returned to the dispatcher becomes `outbox.last_error` and a log
line, so it must not carry what was in a URL's userinfo (`user:password@`),
in a query parameter that looks like a credential (`?token=...`), or a
configured secret quoted back by a lower layer.

journeyflow core has `journeyflow.delivery.redact_url(text)` from the
release after 0.1.0 (it hides every query value and the fragment too). This
plugin uses it when the installed journeyflow has it, and always applies its
own masks as well, so it redacts the same with older releases. Drop the
local masks once the plugin can require that release. (The same module as
journeyflow-webhook's `journeyflow_webhook.redact`: the plugins are separate
distributions, so each carries its copy until core's is required.)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

__all__ = ["MASK", "redact", "redact_url"]

MASK = "***"

# `scheme://` then everything up to the last `@` before the path, query,
# fragment or end of the URL: the userinfo (urlsplit reads it the same way,
# so `user:p@ss@host` is hidden whole).
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^\s/?#'\"<>]*@")
# a query (or fragment) parameter whose name says it is a credential; the
# value runs to the next separator or quote
_SECRET_PARAM = re.compile(
    r"(?i)([?&;#](?:[\w.\-]*?)(?:token|key|secret|sig|pass|pwd|auth|credential|session)"
    r"[\w.\-]*=)[^&;#\s'\"<>]*"
)
# secrets shorter than this are not scrubbed by value: replacing every "ab"
# in a message would mangle it and hide nothing worth hiding
_MIN_SECRET = 4


def _core_redact_url() -> Callable[[str], str] | None:
    import journeyflow.delivery as kit

    found: Callable[[str], str] | None = getattr(kit, "redact_url", None)
    return found


def redact_url(text: str) -> str:
    """`text` with every URL's userinfo and credential-like query values
    masked (and whatever journeyflow's own `redact_url` hides, when present)."""
    core = _core_redact_url()
    if core is not None:
        text = core(text)
    text = _USERINFO.sub(lambda m: f"{m.group(1)}{MASK}@", text)
    return _SECRET_PARAM.sub(lambda m: f"{m.group(1)}{MASK}", text)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`redact_url(text)`, and any of `secrets` quoted in it replaced too."""
    for secret in secrets:
        if secret and len(secret) >= _MIN_SECRET:
            text = text.replace(secret, MASK)
    return redact_url(text)
