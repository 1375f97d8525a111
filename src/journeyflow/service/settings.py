"""What `journeyflow run` is told: flags, then environment, then a file.

One pydantic-settings model holds every setting with its default. Sources,
strongest first: the command line's flags (passed in as keyword arguments),
`JOURNEYFLOW_*` environment variables, a TOML file (`--config FILE`, or
`JOURNEYFLOW_CONFIG`), the defaults below. Lists come from the environment
comma-separated (`JOURNEYFLOW_WRITE_KEYS=key1,key2`).

A bad value is one line naming the setting and where it came from
(`settings_error`), never a traceback: an operator's typo is not a bug.
"""

from __future__ import annotations

import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from journeyflow.definition.durations import parse_duration
from journeyflow.exceptions import DurationError, JourneyflowError

__all__ = ["RunSettings", "load_settings"]

DEFAULT_PORT = 8787
# the variable the command reads for a setting, where it is not JOURNEYFLOW_<NAME>
ENV_NAMES = {"database": "JOURNEYFLOW_DATABASE_URL"}


def _duration(value: Any) -> Any:
    """`30s`, `5m`, `1d` or ISO-8601 as the journey language writes them; a
    number is seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    try:
        return parse_duration(str(value))
    except DurationError as exc:
        raise ValueError(str(exc)) from None


class RunSettings(BaseSettings):
    """Everything `journeyflow run` can be told (docs/service.md lists them)."""

    model_config = SettingsConfigDict(
        env_prefix="JOURNEYFLOW_", extra="forbid", validate_default=True
    )

    # where
    database: str = Field(
        "sqlite:///journeyflow.db", description="SQLAlchemy URL of the store (SQLite or PostgreSQL)"
    )
    journeys: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["journeys"], description="journey files or folders"
    )
    host: str = Field("127.0.0.1", description="address the HTTP ingest listens on")
    port: int = Field(DEFAULT_PORT, ge=0, le=65535, description="its port (0: any free one)")

    # who may send
    write_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="write keys a client must present (HTTP Basic user, or the body's writeKey)",
    )

    # limits and back-pressure
    max_event_bytes: int = Field(32 * 1024, ge=256, description="largest event, in bytes")
    max_request_bytes: int = Field(
        4 * 1024 * 1024, ge=1024, description="largest request body, after gunzip"
    )
    max_inbox: int = Field(
        100_000, ge=1, description="accepted events waiting before ingest answers 429"
    )
    retry_after: int = Field(5, ge=1, description="seconds a client is told to wait (429, 503)")

    # the engine's work
    batch_size: int = Field(1000, ge=1, le=100_000, description="events per unit of work")
    segments_every: Annotated[
        timedelta | None, Field(description="segment cadence (None: never)")
    ] = timedelta(days=1)
    deliver: bool = Field(True, description="deliver the outbox in this process")
    max_attempts: int = Field(5, ge=1, le=100, description="delivery attempts before dead-letter")
    poll: Annotated[timedelta, Field(description="longest sleep between checks")] = timedelta(
        seconds=1
    )

    # stopping
    grace: Annotated[timedelta, Field(description="SIGTERM: time to drain before exit")] = (
        timedelta(seconds=30)
    )
    unready_for: Annotated[
        timedelta, Field(description="SIGTERM: time /readyz answers 503 before the listener closes")
    ] = timedelta(seconds=0)

    # logs
    log_format: Literal["json", "console"] = "json"
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    # the PostgreSQL fleet
    worker: bool = Field(False, description="run as one of several workers (PostgreSQL)")
    http: bool = Field(True, description="serve the HTTP ingest in this process")
    shards: int = Field(
        16, ge=1, le=4096, description="inbox shards: one worker applies a shard at a time"
    )

    @field_validator("journeys", "write_keys", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("segments_every", "poll", "grace", "unready_for", mode="before")
    @classmethod
    def _durations(cls, value: Any) -> Any:
        return None if value is None or value == "" else _duration(value)

    def keys(self) -> list[str]:
        """The write keys in clear, for the comparison only."""
        return [key.get_secret_value() for key in self.write_keys]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # flags (init) > environment > the TOML file (added by `load_settings`)
        return (init_settings, env_settings)


def load_settings(config: Path | None = None, **flags: Any) -> RunSettings:
    """Settings from the flags given (None means not given), the environment and
    an optional TOML file, strongest first.

    :raises JourneyflowError: one line per bad setting, naming it
    """
    given = {name: value for name, value in flags.items() if value is not None}
    from_file = _read_toml(config) if config is not None else {}
    try:
        # the file is weakest: only what neither a flag nor the environment sets
        settings = RunSettings(**given)
        file_only = {
            name: value
            for name, value in from_file.items()
            if name not in given and name not in settings.model_fields_set
        }
        if file_only:
            settings = RunSettings(**{**file_only, **given})
    except ValidationError as exc:
        raise JourneyflowError(settings_error(exc, config)) from None
    return settings


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise JourneyflowError(f"{path}: cannot read the settings file ({exc.strerror})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise JourneyflowError(f"{path}: not TOML: {exc}") from None
    return {key.replace("-", "_"): value for key, value in data.items()}


def settings_error(exc: ValidationError, config: Path | None) -> str:
    """One line per bad setting: its name as a flag and environment variable."""
    lines = []
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"]) or "settings"
        field = str(error["loc"][0]) if error["loc"] else name
        variable = ENV_NAMES.get(field, f"JOURNEYFLOW_{field.upper()}")
        where = f"--{field.replace('_', '-')} / {variable}"
        if config is not None:
            where += f" / {field} in {config}"
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "no such setting"
        lines.append(f"{name} ({where}): {message}")
    return "bad settings: " + "; ".join(lines)
