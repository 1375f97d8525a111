"""journeyflow: customer journeys as executable, testable state machines.

Public names are re-exported lazily (PEP 562), so `import journeyflow` — done
by every pytest run through the journey-test plugin — costs almost nothing.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

import pluggy

hookimpl = pluggy.HookimplMarker("journeyflow")  # marks plugin hook implementations

__version__ = "0.1.0"

_EXPORTS = {
    "Journey": "journeyflow.definition.dsl",
    "Engine": "journeyflow.runtime.engine",
    "load_file": "journeyflow.definition.loader",
    "load_paths": "journeyflow.definition.loader",
    "load_text": "journeyflow.definition.loader",
    "VirtualClock": "journeyflow.clock",
    "SystemClock": "journeyflow.clock",
    "open_store": "journeyflow.store",
    "JourneyflowError": "journeyflow.exceptions",
    "JourneyDefinitionError": "journeyflow.exceptions",
    "Channel": "journeyflow.types",
    "Delivery": "journeyflow.types",
    "Effect": "journeyflow.types",
    "Segmenter": "journeyflow.types",
    "CustomerFacts": "journeyflow.types",
    "KpiCollector": "journeyflow.types",
    "Vertical": "journeyflow.types",
    "CelFunction": "journeyflow.types",
    "TransitionInfo": "journeyflow.types",
    "EnrolmentEnded": "journeyflow.types",
}

__all__ = [
    "CelFunction",
    "Channel",
    "CustomerFacts",
    "Delivery",
    "Effect",
    "Engine",
    "EnrolmentEnded",
    "Journey",
    "JourneyDefinitionError",
    "JourneyflowError",
    "KpiCollector",
    "Segmenter",
    "SystemClock",
    "TransitionInfo",
    "Vertical",
    "VirtualClock",
    "hookimpl",
    "load_file",
    "load_paths",
    "load_text",
    "open_store",
]

if TYPE_CHECKING:
    from journeyflow.clock import SystemClock, VirtualClock
    from journeyflow.definition.dsl import Journey
    from journeyflow.definition.loader import load_file, load_paths, load_text
    from journeyflow.exceptions import JourneyDefinitionError, JourneyflowError
    from journeyflow.runtime.engine import Engine
    from journeyflow.store import open_store
    from journeyflow.types import (
        CelFunction,
        Channel,
        CustomerFacts,
        Delivery,
        Effect,
        EnrolmentEnded,
        KpiCollector,
        Segmenter,
        TransitionInfo,
        Vertical,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'journeyflow' has no attribute {name!r}")
    return getattr(import_module(module), name)
