"""The email channel's settings, checked when they are read.

A malformed setting is an error naming the variable when the plugin loads,
not a surprise at the first delivery: in particular the From address must be
one well-formed mailbox. The SMTP password is never shown: not in repr, not
in an error.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from journeyflow_email.addresses import AddressError, Mailbox, mailbox

__all__ = ["ConfigError", "SmtpConfig"]

FROM_SETTING = "JOURNEYFLOW_SMTP_FROM"


class ConfigError(ValueError):
    """A setting the channel cannot work with; the message names it."""


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _number(env: Mapping[str, str], name: str, kind: type[int] | type[float]) -> float | None:
    text = env.get(name)
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {text[:20]!r}") from None


@dataclass(frozen=True)
class SmtpConfig:
    host: str = "localhost"
    port: int | None = None
    starttls: bool = False
    ssl: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str | None = None
    cafile: str | None = None
    timeout: float = 10.0
    templates: Path = Path("templates/email")

    def __post_init__(self) -> None:
        self.sender_mailbox()  # raises on a malformed From, at configuration time
        if self.port is not None and not 0 < self.port < 65536:
            raise ConfigError(f"JOURNEYFLOW_SMTP_PORT must be 1-65535, not {self.port}")
        if not self.timeout > 0:
            raise ConfigError("JOURNEYFLOW_SMTP_TIMEOUT must be a positive number of seconds")

    def sender_mailbox(self) -> Mailbox | None:
        """The From address, checked; None when it is not set."""
        if self.sender is None:
            return None
        try:
            return mailbox(self.sender, FROM_SETTING)
        except AddressError as exc:
            raise ConfigError(str(exc)) from None

    @property
    def effective_port(self) -> int:
        return self.port or (465 if self.ssl else 587 if self.starttls else 25)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SmtpConfig:
        """The settings from the environment.

        :raises ConfigError: a setting is malformed (named in the message)
        """
        env = os.environ if environ is None else environ
        port = _number(env, "JOURNEYFLOW_SMTP_PORT", int)
        timeout = _number(env, "JOURNEYFLOW_SMTP_TIMEOUT", float)
        return cls(
            host=env.get("JOURNEYFLOW_SMTP_HOST") or "localhost",
            port=None if port is None else int(port),
            starttls=_flag(env.get("JOURNEYFLOW_SMTP_STARTTLS")),
            ssl=_flag(env.get("JOURNEYFLOW_SMTP_SSL")),
            username=env.get("JOURNEYFLOW_SMTP_USERNAME") or None,
            password=env.get("JOURNEYFLOW_SMTP_PASSWORD") or None,
            sender=env.get(FROM_SETTING) or None,
            cafile=env.get("JOURNEYFLOW_SMTP_CAFILE") or None,
            timeout=10.0 if timeout is None else timeout,
            templates=Path(env.get("JOURNEYFLOW_EMAIL_TEMPLATES") or "templates/email"),
        )
