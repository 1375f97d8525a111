"""The webhook channel's settings, checked when they are read.

A bad setting is an error naming the variable when the plugin loads, not a
surprise at the first delivery. The secret is never shown: not in repr, not
in an error.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from journeyflow_webhook.urls import Target, UrlError, parse_target, shown

__all__ = ["ConfigError", "WebhookConfig"]

URL_SETTING = "JOURNEYFLOW_WEBHOOK_URL"
SECRET_SETTING = "JOURNEYFLOW_WEBHOOK_SECRET"
TIMEOUT_SETTING = "JOURNEYFLOW_WEBHOOK_TIMEOUT"


class ConfigError(ValueError):
    """A setting the channel cannot work with; the message names it."""


@dataclass(frozen=True)
class WebhookConfig:
    url: str | None = None
    secret: str | None = field(default=None, repr=False)
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if self.url is not None:
            self.target()  # raises on a bad URL, at configuration time
        if not self.timeout > 0:
            raise ConfigError(f"{TIMEOUT_SETTING} must be a positive number of seconds")

    def target(self) -> Target | None:
        """The configured URL, checked; None when there is none."""
        if self.url is None:
            return None
        try:
            return parse_target(self.url, URL_SETTING)
        except UrlError as exc:
            raise ConfigError(str(exc)) from None

    def __repr__(self) -> str:
        url = None if self.url is None else shown(self.url)
        secret = "None" if self.secret is None else "'***'"
        return f"WebhookConfig(url={url}, secret={secret}, timeout={self.timeout!r})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WebhookConfig:
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
            url=env.get(URL_SETTING) or None,
            secret=env.get(SECRET_SETTING) or None,
            timeout=seconds,
        )
