"""The `sms` channel: text messages through a provider-style HTTP API.

Each effect is `POST {base_url}/messages` with JSON `{"to", "body", "from",
"reference"}` (`reference` is the effect key), `Authorization: Bearer
<token>` and `Idempotency-Key: <effect key>`.

Configuration (environment, read when the plugins are loaded):

    JOURNEYFLOW_SMS_BASE_URL   the provider's API root (required)
    JOURNEYFLOW_SMS_TOKEN      bearer token (required)
    JOURNEYFLOW_SMS_FROM       sender id or number (optional)
    JOURNEYFLOW_SMS_TEMPLATES  folder of `<template>.txt` Jinja2 files (default templates/sms)
    JOURNEYFLOW_SMS_TIMEOUT    seconds, default 10
    JOURNEYFLOW_SMS_REGION     region for numbers written without +country code (e.g. FR);
                               default none: every number needs its leading +

The recipient is `data.to` (journeys write `to: '=customer.phone'`), else the
customer's `phone` attribute: one valid number, sent in E.164 (`phones.e164`,
by `phonenumbers`); anything else fails the effect permanently with the
reason, and nothing is sent. Settings are checked when read
(`config.SmsConfig`); a malformed one makes every delivery a temporary
failure naming it. Every reason is redacted (`redact_secrets`): no token, no URL
credentials. The text is `data.body`, else the template
`<template>.txt` rendered with the send's `data` (StrictUndefined: a missing
value fails the effect, naming it). Answers are read by journeyflow's shared
HTTP classification (`journeyflow.delivery.classify_http`), as for webhooks:
2xx sent; 408, 429, 5xx (after `Retry-After` when given) and network trouble
temporary; 401/403 temporary with a hint to check the token; other 4xx and
3xx permanent.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from importlib.metadata import version

import jinja2

from journeyflow import Channel, Delivery, Effect, hookimpl
from journeyflow.delivery import SentKeys, post, redact_secrets
from journeyflow_sms.config import ConfigError, SmsConfig
from journeyflow_sms.phones import PhoneError, e164

__all__ = ["ConfigError", "SmsChannel", "SmsConfig", "make_channel"]

__version__ = version("journeyflow-sms")
NAME = "sms"


class SmsChannel:
    """Sends one SMS per effect; idempotent through `sent`."""

    def __init__(self, config: SmsConfig, sent: SentKeys) -> None:
        self.config = config
        self.sent = sent
        self._templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(config.templates),
            autoescape=False,  # plain text
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=False,
        )

    def __call__(self, effect: Effect) -> Delivery:
        if effect.key in self.sent:
            return Delivery.sent("already delivered")
        if not self.config.base_url or not self.config.token:
            return Delivery.retry("set JOURNEYFLOW_SMS_BASE_URL and JOURNEYFLOW_SMS_TOKEN")
        to = self._recipient(effect)
        if isinstance(to, Delivery):
            return to
        body = self._body(effect)
        if isinstance(body, Delivery):
            return body
        message = {"to": to, "body": body, "reference": effect.key}
        if self.config.sender:
            message["from"] = self.config.sender
        delivery = self._post(json.dumps(message).encode(), effect.key)
        if delivery.detail:  # the kit quotes the URL in network errors
            delivery = replace(
                delivery, detail=redact_secrets(delivery.detail, [self.config.token])
            )
        if delivery.status == "sent":
            self.sent.add(effect.key, delivery.detail)
        return delivery

    def _recipient(self, effect: Effect) -> str | Delivery:
        """The number in E.164, or a permanent failure saying why not."""
        where, raw = "data.to", effect.data.get("to")
        if not raw:
            where, raw = "the customer's phone attribute", effect.customer.get("phone")
        if not raw:
            return Delivery.give_up(
                f"no phone number for customer {effect.customer_id!r}: "
                "put `to: '=customer.phone'` in the send's data"
            )
        try:
            return e164(raw, where, self.config.region)
        except PhoneError as exc:
            return Delivery.give_up(str(exc))

    def _body(self, effect: Effect) -> str | Delivery:
        if effect.data.get("body"):
            return str(effect.data["body"])
        if not effect.template:
            return Delivery.give_up("an SMS needs `template:` or `body` in data")
        name = f"{effect.template}.txt"
        try:
            template = self._templates.get_template(name)
            return template.render(**effect.data, customer_id=effect.customer_id).strip()
        except jinja2.TemplateNotFound:
            return Delivery.give_up(f"no SMS template {name!r} in {self.config.templates}")
        except jinja2.TemplateError as exc:
            return Delivery.give_up(f"SMS template {name!r}: {exc}")

    def _post(self, body: bytes, key: str) -> Delivery:
        answer = post(
            f"{str(self.config.base_url).rstrip('/')}/messages",
            body,
            {
                "Content-Type": "application/json",
                "Authorization": f"Bearer {self.config.token}",
                "Idempotency-Key": key,
                "User-Agent": f"journeyflow-sms/{__version__}",
            },
            timeout=self.config.timeout,
            auth_hint="check JOURNEYFLOW_SMS_TOKEN",
        )
        if answer.delivery.status != "sent":
            return answer.delivery
        try:
            provider_id = json.loads(answer.body).get("id")
        except (ValueError, AttributeError):
            provider_id = None
        return Delivery.sent(f"provider id {provider_id}") if provider_id else answer.delivery


class Misconfigured:
    """The channel while a setting is malformed: every delivery waits, with
    the reason, so fixing the setting and restarting lets the retries through
    (as with a missing setting) instead of failing effects for good."""

    def __init__(self, reason: str) -> None:
        self.reason = f"{reason}; fix it and restart the deliverer"

    def __call__(self, effect: Effect) -> Delivery:
        return Delivery.retry(self.reason)


def make_channel(config: SmsConfig | None = None, sent: SentKeys | None = None) -> Channel:
    """The `sms` Channel (configuration from the environment by default;
    a malformed setting there gives a channel that answers every effect with
    a temporary failure naming it)."""
    if config is None:
        try:
            config = SmsConfig.from_env()
        except ConfigError as exc:
            return Channel(
                NAME,
                deliver=Misconfigured(str(exc)),
                description="SMS through a provider's HTTP API (misconfigured)",
            )
    sent = sent or SentKeys.in_state_dir(NAME)
    return Channel(
        NAME,
        deliver=SmsChannel(config, sent),
        description="SMS through a provider's HTTP API",
        timeout=config.timeout,
    )


@hookimpl
def journeyflow_channels() -> Iterable[Channel]:
    return [make_channel()]
