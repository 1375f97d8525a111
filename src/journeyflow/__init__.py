"""journeyflow: customer journeys as executable, testable state machines.

The public names live here, the façade: users and plugins import them from
`journeyflow` (`from journeyflow import Engine, hookimpl, Channel`), so the
modules behind them are free to move. Channel authors also use
`journeyflow.delivery` (sent keys, HTTP classification) and
`journeyflow.testing.conformance`.

Names are loaded on first use (PEP 562), so `import journeyflow` — done by
every pytest run through the journey-test plugin — costs almost nothing.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    # journeys: define, load, check
    "Journey": "journeyflow.definition.dsl",
    "analyse_file": "journeyflow.definition.loader",
    "load_file": "journeyflow.definition.loader",
    "load_paths": "journeyflow.definition.loader",
    "load_text": "journeyflow.definition.loader",
    "parse_duration": "journeyflow.definition.durations",
    "format_duration": "journeyflow.definition.durations",
    # running them
    "Engine": "journeyflow.runtime.engine",
    "Clock": "journeyflow.clock",
    "VirtualClock": "journeyflow.clock",
    "SystemClock": "journeyflow.clock",
    "as_utc": "journeyflow.clock",
    "open_store": "journeyflow.store",
    "MemoryStore": "journeyflow.store",
    "Store": "journeyflow.store",
    "dispatch": "journeyflow.delivery.outbox",
    "Deliverer": "journeyflow.delivery.outbox",
    # errors
    "JourneyflowError": "journeyflow.exceptions",
    "JourneyDefinitionError": "journeyflow.exceptions",
    "PluginError": "journeyflow.exceptions",
    # plugins: the marker, the manager, what they register, observers
    "hookimpl": "journeyflow.plugin.markers",
    "build_manager": "journeyflow.plugin.manager",
    "Registry": "journeyflow.plugin.registry",
    "Observer": "journeyflow.plugin.observer",
    # the records plugins return and receive
    "Channel": "journeyflow.types",
    "Delivery": "journeyflow.types",
    "Effect": "journeyflow.types",
    "Segmenter": "journeyflow.types",
    "CustomerFacts": "journeyflow.types",
    "KpiCollector": "journeyflow.types",
    "StageHistory": "journeyflow.types",
    "Vertical": "journeyflow.types",
    "CelFunction": "journeyflow.types",
    "TransitionInfo": "journeyflow.types",
    "EnrolmentEnded": "journeyflow.types",
}

__all__ = [
    "CelFunction",
    "Channel",
    "Clock",
    "CustomerFacts",
    "Deliverer",
    "Delivery",
    "Effect",
    "Engine",
    "EnrolmentEnded",
    "Journey",
    "JourneyDefinitionError",
    "JourneyflowError",
    "KpiCollector",
    "MemoryStore",
    "Observer",
    "PluginError",
    "Registry",
    "Segmenter",
    "StageHistory",
    "Store",
    "SystemClock",
    "TransitionInfo",
    "Vertical",
    "VirtualClock",
    "analyse_file",
    "as_utc",
    "build_manager",
    "dispatch",
    "format_duration",
    "hookimpl",
    "load_file",
    "load_paths",
    "load_text",
    "open_store",
    "parse_duration",
]

if TYPE_CHECKING:
    from journeyflow.clock import Clock, SystemClock, VirtualClock, as_utc
    from journeyflow.definition.dsl import Journey
    from journeyflow.definition.durations import format_duration, parse_duration
    from journeyflow.definition.loader import analyse_file, load_file, load_paths, load_text
    from journeyflow.delivery.outbox import Deliverer, dispatch
    from journeyflow.exceptions import JourneyDefinitionError, JourneyflowError, PluginError
    from journeyflow.plugin.manager import build_manager
    from journeyflow.plugin.markers import hookimpl
    from journeyflow.plugin.observer import Observer
    from journeyflow.plugin.registry import Registry
    from journeyflow.runtime.engine import Engine
    from journeyflow.store import MemoryStore, Store, open_store
    from journeyflow.types import (
        CelFunction,
        Channel,
        CustomerFacts,
        Delivery,
        Effect,
        EnrolmentEnded,
        KpiCollector,
        Segmenter,
        StageHistory,
        TransitionInfo,
        Vertical,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'journeyflow' has no attribute {name!r}")
    return getattr(import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
