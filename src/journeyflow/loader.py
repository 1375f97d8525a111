"""YAML text -> `dsl.Journey`, safely, with every error at file:line:col.

Minimal first version: parses with ruamel.yaml (YAML 1.2, so `on:` stays a
string) and validates with pydantic. Hardened in the Foundation issue: duplicate
keys, tags, bombs, error positions, static checks.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from ruamel.yaml import YAML

from journeyflow.dsl import Journey
from journeyflow.exceptions import JourneyDefinitionError, Problem


@dataclass(frozen=True)
class LoadedJourney:
    """A journey together with where it came from."""

    journey: Journey
    source: str  # the file's text
    path: str  # file name for messages ("<string>" when loaded from text)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def content_hash(self) -> str:
        """sha256 of the file's text: a changed hash without a version bump is refused."""
        return hashlib.sha256(self.source.encode("utf-8")).hexdigest()


def load_text(text: str, filename: str = "<string>") -> LoadedJourney:
    yaml = YAML(typ="safe", pure=True)
    data = yaml.load(text)
    try:
        journey = Journey.model_validate(data)
    except Exception as exc:
        raise JourneyDefinitionError([Problem("JF200", str(exc), filename)]) from exc
    return LoadedJourney(journey, text, filename)


def load_file(path: str | Path) -> LoadedJourney:
    p = Path(path)
    return load_text(p.read_text(encoding="utf-8"), str(p))


def journey_files(paths: list[str | Path]) -> list[Path]:
    """Expand folders to their journey files (`*.yaml`, `*.yml`, not `*.test.yaml`)."""
    found: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found.extend(
                f
                for f in sorted(p.rglob("*"))
                if f.suffix in (".yaml", ".yml") and not f.name.endswith((".test.yaml", ".test.yml"))
            )
        else:
            found.append(p)
    return found


def load_paths(paths: list[str | Path]) -> list[LoadedJourney]:
    return [load_file(f) for f in journey_files(paths)]
