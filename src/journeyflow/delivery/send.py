"""One send: a channel's `deliver(effect)` in a thread, given its timeout.

A channel is a plugin's code: it may hang, raise, or answer something that is
not a `Delivery`. Each of these comes back as a temporary failure (so the
effect is retried, and the channel's circuit breaker counts it), with a
detail saying which channel and which plugin; nothing a channel does stops
the deliverer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import structlog

from journeyflow.delivery.redact import redact_url
from journeyflow.types import Delivery, Effect

__all__ = ["TIMEOUT_SLACK", "call_channel"]

log = structlog.get_logger("journeyflow.delivery.outbox")

TIMEOUT_SLACK = 1.0  # seconds a channel may overrun its own timeout before we stop waiting


def call_channel(
    name: str,
    deliver: Callable[[Effect], Delivery],
    timeout: float,
    effect: Effect,
    plugin: str | None,
) -> Delivery:
    """Call a channel in a thread, so one that ignores its timeout cannot stall
    the outbox. The thread is abandoned if it overruns (daemon: it never holds
    up exit); idempotency on the key covers a late delivery."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["delivery"] = deliver(effect)
        except BaseException as exc:  # reported below, with the plugin's name
            box["error"] = exc

    thread = threading.Thread(target=run, name=f"journeyflow-deliver-{name}", daemon=True)
    thread.start()
    thread.join(timeout + TIMEOUT_SLACK)
    if thread.is_alive():
        log.warning(
            "channel overran its timeout",
            channel=name,
            plugin=plugin,
            timeout=timeout,
            key=effect.key,
        )
        return Delivery.retry(f"channel {name!r} gave no answer within its {timeout:g}s timeout")
    if "error" in box:
        exc = box["error"]
        log.error(
            "channel raised",
            channel=name,
            plugin=plugin,
            key=effect.key,
            error=redact_url(f"{type(exc).__name__}: {exc}"),
        )
        return Delivery.retry(
            f"channel {name!r} (plugin {plugin!r}) raised {type(exc).__name__}: {exc}"
        )
    delivery = box.get("delivery")
    if not isinstance(delivery, Delivery):
        return Delivery.retry(
            f"channel {name!r} (plugin {plugin!r}) returned {_shown(delivery)}, "
            "not a journeyflow.types.Delivery"
        )
    return delivery


def _shown(value: object, most: int = 200) -> str:
    """A channel's odd answer as the error shows it: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= most else text[: most - 1] + "…"
