"""The journeyflow error hierarchy.

Every error a *user* can cause (a wrong journey file, a bad event, a bad
option) derives from :class:`JourneyflowError`; the CLI shows its message and
exits non-zero without a traceback. Anything else is a bug in journeyflow.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class JourneyflowError(Exception):
    """Base class: raised for a mistake in input, never for a bug."""


@dataclass(frozen=True)
class Problem:
    """One finding about a journey file: an error or a warning, with where it is."""

    code: str  # stable id, e.g. "JF104"; each static check has its own
    message: str  # what is wrong and how to fix it
    file: str = "<string>"
    line: int | None = None  # 1-based
    column: int | None = None  # 1-based
    severity: str = "error"  # "error" | "warning"

    def location(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return where

    def __str__(self) -> str:
        return f"{self.location()}: {self.severity} {self.code}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "column": self.column,
        }


@dataclass
class JourneyDefinitionError(JourneyflowError):
    """Raised when a journey file cannot be loaded: bad YAML, a schema error,
    bad CEL, or a failed static check. Carries every error found, each with
    file:line:col."""

    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


class ExpressionError(JourneyflowError):
    """Raised when a CEL expression does not compile or names something unknown
    (the static checks turn it into a problem at the file position), or when
    it fails at run time (a guard then counts as false)."""


class DurationError(JourneyflowError):
    """Raised for a duration that is neither `30m`/`2h`/`14d`/`2w` nor ISO-8601."""


class EventError(JourneyflowError):
    """Raised (and reported per event, never stopping a batch) when an incoming
    event is not a valid Segment-style track/identify call."""


class JourneyVersionError(JourneyflowError):
    """Raised when a journey's content changed but its `version` did not."""


class StoreError(JourneyflowError):
    """Raised when the database cannot be opened: a malformed URL, a driver
    that is not installed, a server that does not answer, a file that cannot
    be created."""


class PluginError(JourneyflowError):
    """Raised when plugins conflict (two register the same name) or a journey
    names a channel, segment, KPI or vertical no plugin provides."""
