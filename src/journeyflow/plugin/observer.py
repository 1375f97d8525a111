"""Telling plugins what happened: observer hooks called one implementation at
a time, each in its own try/except, so one plugin raising is logged (plugin
and hook named) and never stops the engine, the dispatcher or the other
plugins (pluggy issue #419); and `Observer`, the engine listener that turns
the engine's after-commit notifications into those calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy
import structlog

from journeyflow.types import EnrolmentEnded, TransitionInfo

if TYPE_CHECKING:
    from journeyflow.runtime.semantics import Notification

__all__ = ["Observer", "call_each"]

log = structlog.get_logger("journeyflow.plugin.observer")


def call_each(pm: pluggy.PluginManager, hook: str, **kwargs: Any) -> list[Any]:
    """Call every implementation of an observer hook, each in its own try/except.

    A plugin raising is logged with the plugin and hook names and skipped; the
    others still run. Returns the results of the implementations that did not
    raise, in pluggy's calling order (last registered first)."""
    caller: pluggy.HookCaller = getattr(pm.hook, hook)
    results: list[Any] = []
    for impl in reversed(caller.get_hookimpls()):
        if impl.hookwrapper or impl.wrapper:
            continue  # wrappers make no sense for notifications: documented
        try:
            results.append(impl.function(*[kwargs[arg] for arg in impl.argnames]))
        except Exception as exc:
            log.exception(
                "plugin hook failed",
                plugin=impl.plugin_name,
                hook=hook,
                error=f"{type(exc).__name__}: {exc}",
            )
    return results


class Observer:
    """An engine listener (`Engine(listeners=[Observer(pm)])`) that turns the
    engine's notifications into `journeyflow_after_transition` and
    `journeyflow_enrolment_ended` calls, isolated per plugin.

    Every notification carries its enrolment, so the observer needs no store.

    :param pm: the plugin manager
    """

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm

    def __call__(self, note: Notification) -> None:
        e = note.enrolment
        if e is None:
            return  # the engine sends none without one
        if note.kind == "transition" and note.history is not None:
            if not self.pm.hook.journeyflow_after_transition.get_hookimpls():
                return  # nobody listens: build nothing
            h = note.history
            info = TransitionInfo(
                customer_id=h.customer_id,
                journey=h.journey,
                version=e.version,
                enrolment_id=h.enrolment_id,
                from_state=h.from_state,
                to_state=h.to_state or "",
                cause=h.cause,
                at=h.at,
            )
            call_each(self.pm, "journeyflow_after_transition", transition=info)
        elif note.kind == "enrolment_ended":
            ended = EnrolmentEnded(
                customer_id=e.customer_id,
                journey=e.journey,
                version=e.version,
                enrolment_id=e.id,
                status=e.status,
                reason=e.end_reason,
                at=e.ended_at or e.entered_at,
            )
            call_each(self.pm, "journeyflow_enrolment_ended", ended=ended)
