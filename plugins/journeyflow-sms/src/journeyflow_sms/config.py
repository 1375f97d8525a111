"""The sms channel's settings, checked when they are read.

A malformed setting is an error naming the variable when the plugin loads,
not a surprise at the first delivery. The token is never shown: not in repr,
not in an error.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from journeyflow.delivery import redact_url
from journeyflow_sms.phones import PhoneError, check_region

__all__ = ["ConfigError", "SmsConfig"]

BASE_URL_SETTING = "JOURNEYFLOW_SMS_BASE_URL"
REGION_SETTING = "JOURNEYFLOW_SMS_REGION"
TIMEOUT_SETTING = "JOURNEYFLOW_SMS_TIMEOUT"
MAX_URL = 2048


class ConfigError(ValueError):
    """A setting the channel cannot work with; the message names it."""


def _shown(url: str) -> str:
    text = redact_url(url)
    if "@" in url and "***" not in text:  # an '@' the redaction could not place
        return "(not shown: it contains '@' and may hold credentials)"
    return repr(text[:80]) + ("…" if len(text) > 80 else "")


def check_base_url(url: str) -> None:
    """The provider's API root: http(s), a host, nothing the channel would
    mangle or leak (`/messages` is appended; the token goes in a header)."""
    problem = None
    if len(url) > MAX_URL:
        problem = f"is longer than {MAX_URL} characters"
    elif any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        problem = "contains a space, line break or control character"
    else:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 (raises ValueError on a bad port)
        except ValueError as exc:
            raise ConfigError(f"{BASE_URL_SETTING} is not a valid URL ({exc})") from None
        if parts.scheme.lower() not in ("http", "https"):
            problem = "must be an http:// or https:// URL"
        elif not parts.hostname:
            problem = "has no host"
        elif "@" in parts.netloc:
            problem = "holds credentials: put the token in JOURNEYFLOW_SMS_TOKEN"
        elif parts.query or parts.fragment:
            problem = "must not have a query or fragment (`/messages` is appended to it)"
    if problem:
        raise ConfigError(f"{BASE_URL_SETTING} {problem}: {_shown(url)}")


@dataclass(frozen=True)
class SmsConfig:
    base_url: str | None = None
    token: str | None = None
    sender: str | None = None
    templates: Path = Path("templates/sms")
    timeout: float = 10.0
    region: str | None = None  # how to read numbers written without a country code

    def __post_init__(self) -> None:
        if self.base_url is not None:
            check_base_url(self.base_url)
        try:
            object.__setattr__(self, "region", check_region(self.region, REGION_SETTING))
        except PhoneError as exc:
            raise ConfigError(str(exc)) from None
        if not self.timeout > 0:
            raise ConfigError(f"{TIMEOUT_SETTING} must be a positive number of seconds")

    def __repr__(self) -> str:
        url = None if self.base_url is None else _shown(self.base_url)
        token = "None" if self.token is None else "'***'"
        return (
            f"SmsConfig(base_url={url}, token={token}, sender={self.sender!r}, "
            f"templates={self.templates!r}, timeout={self.timeout!r}, region={self.region!r})"
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SmsConfig:
        """The settings from the environment.

        :raises ConfigError: a setting is malformed (named in the message)
        """
        env = os.environ if environ is None else environ
        timeout = env.get(TIMEOUT_SETTING) or "10"
        try:
            seconds = float(timeout)
        except ValueError:
            raise ConfigError(
                f"{TIMEOUT_SETTING} must be a number of seconds, not {timeout[:20]!r}"
            ) from None
        return cls(
            base_url=env.get(BASE_URL_SETTING) or None,
            token=env.get("JOURNEYFLOW_SMS_TOKEN") or None,
            sender=env.get("JOURNEYFLOW_SMS_FROM") or None,
            templates=Path(env.get("JOURNEYFLOW_SMS_TEMPLATES") or "templates/sms"),
            timeout=seconds,
            region=env.get(REGION_SETTING) or None,
        )
