"""journeyflow: customer journeys as executable, testable state machines."""

from __future__ import annotations

from journeyflow.dsl import Journey
from journeyflow.exceptions import JourneyDefinitionError, JourneyflowError

__all__ = ["Journey", "JourneyDefinitionError", "JourneyflowError"]
__version__ = "0.1.0"
