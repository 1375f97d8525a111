"""The `email` channel: SMTP, Jinja2 templates, one message per effect key.

Configuration (environment, read when the plugins are loaded):

    JOURNEYFLOW_SMTP_HOST       default localhost
    JOURNEYFLOW_SMTP_PORT       default 465 with SSL, 587 with STARTTLS, else 25
    JOURNEYFLOW_SMTP_STARTTLS   1/true: upgrade the connection with STARTTLS
    JOURNEYFLOW_SMTP_SSL        1/true: implicit TLS from the first byte (SMTPS)
    JOURNEYFLOW_SMTP_USERNAME   log in when set (with JOURNEYFLOW_SMTP_PASSWORD)
    JOURNEYFLOW_SMTP_PASSWORD
    JOURNEYFLOW_SMTP_FROM       the From address (required), e.g. 'Salon <hi@example.com>'
    JOURNEYFLOW_SMTP_CAFILE     CA bundle to verify the server with (default: the system's)
    JOURNEYFLOW_SMTP_TIMEOUT    seconds, default 10
    JOURNEYFLOW_EMAIL_TEMPLATES the template folder, default templates/email

Templates, for a send with `template: welcome`: `welcome.subject.txt` (one
line), `welcome.html`, and optionally `welcome.txt` (a plain-text
alternative). They are rendered with the send's `data`, plus `customer` (the
customer's attributes), `customer_id`, `journey` and `effect_key`; a value
the template uses but nobody gave fails the effect (StrictUndefined), naming
it. HTML is autoescaped; `.txt` files are not (they are plain text).

The recipient is `data.to` (journeys write `to: '=customer.email'`), else the
customer's `email` attribute: exactly one bare address, checked by
email-validator without DNS (`addresses.recipient`); anything else (several
addresses, a display name, group syntax, a line break, an overlong or empty
value) fails the effect permanently with a reason naming the problem, and
nothing is sent. The SMTP envelope names that one address, never what a
header says. The From setting is checked when the configuration is read
(`config.SmtpConfig`); a malformed one makes every delivery a temporary
failure naming it. The subject is one line (whitespace, line breaks
included, collapsed), so a template value cannot add a header.
`Message-ID` is `<effect key@from domain>`.

Delivery guarantee: a key the SMTP server accepted is recorded in a local
sent-keys file (`JOURNEYFLOW_STATE_DIR`, default `.journeyflow/`) and never
sent again from that file. A crash after the server accepted and before the
record is written can send once more; the repeated Message-ID lets mail
systems drop it. Keep the state folder on persistent storage, one per deployment.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from importlib.metadata import version
from pathlib import Path
from typing import Any

import jinja2

from journeyflow import Channel, Delivery, Effect, hookimpl
from journeyflow.delivery import SentKeys
from journeyflow_email.addresses import AddressError, Mailbox, recipient
from journeyflow_email.config import ConfigError, SmtpConfig

__all__ = [
    "ConfigError",
    "EmailChannel",
    "SmtpConfig",
    "Templates",
    "make_channel",
    "message_id",
]

__version__ = version("journeyflow-email")
NAME = "email"


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str | None


class Templates:
    """`<name>.subject.txt`, `<name>.html` and optional `<name>.txt` in a folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(folder),
            # autoescape on everywhere but plain-text files (subject, .txt)
            autoescape=jinja2.select_autoescape(
                disabled_extensions=("txt",), default=True, default_for_string=True
            ),
            undefined=jinja2.StrictUndefined,
        )

    def render(self, name: str, context: Mapping[str, Any]) -> Rendered:
        subject = self.env.get_template(f"{name}.subject.txt").render(context)
        html = self.env.get_template(f"{name}.html").render(context)
        try:
            text: str | None = self.env.get_template(f"{name}.txt").render(context)
        except jinja2.TemplateNotFound:
            text = None
        return Rendered(" ".join(subject.split()), html, text)


def message_id(key: str, sender: str) -> str:
    """`<key@domain of the From address>`: stable, so a resend is recognisable."""
    address = parseaddr(sender)[1]
    domain = address.rpartition("@")[2] if "@" in address else "journeyflow.invalid"
    return f"<{key}@{domain}>"


class EmailChannel:
    """Renders and sends one message per effect; idempotent through `sent`."""

    def __init__(self, config: SmtpConfig, sent: SentKeys) -> None:
        self.config = config
        self.sent = sent
        self.templates = Templates(config.templates)
        self.sender: Mailbox | None = config.sender_mailbox()

    def __call__(self, effect: Effect) -> Delivery:
        if effect.key in self.sent:
            return Delivery.sent("already delivered")
        if self.sender is None:
            return Delivery.retry("JOURNEYFLOW_SMTP_FROM is not set: the From address")
        built = self.build(effect)
        if isinstance(built, Delivery):
            return built
        message, to = built
        return self._send(message, self.sender.address, to, effect.key)

    def build(self, effect: Effect) -> tuple[EmailMessage, str] | Delivery:
        """The message for an effect and its one recipient, or a permanent
        failure saying why not."""
        where, raw = "data.to", effect.data.get("to")
        if not raw:
            where, raw = "the customer's email attribute", effect.customer.get("email")
        if not raw:
            return Delivery.give_up(
                f"no e-mail address for customer {effect.customer_id!r}: "
                "put `to: '=customer.email'` in the send's data"
            )
        try:
            to = recipient(raw, where)
        except AddressError as exc:
            return Delivery.give_up(str(exc))
        if not effect.template:
            return Delivery.give_up("an e-mail needs `template:`")
        context = {
            "customer": dict(effect.customer),
            "customer_id": effect.customer_id,
            "journey": effect.journey,
            "effect_key": effect.key,
            **effect.data,
        }
        try:
            rendered = self.templates.render(effect.template, context)
        except jinja2.TemplateNotFound as exc:
            return Delivery.give_up(
                f"e-mail template {exc.name!r} not found in "
                f"{self.config.templates} (JOURNEYFLOW_EMAIL_TEMPLATES)"
            )
        except jinja2.TemplateError as exc:
            return Delivery.give_up(f"e-mail template {effect.template!r}: {exc}")
        assert self.sender is not None
        msg = EmailMessage()
        msg["From"] = self.sender.header
        msg["To"] = to
        msg["Subject"] = rendered.subject  # one line: Templates.render collapses whitespace
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = message_id(effect.key, self.sender.header)
        msg["X-Journeyflow-Effect-Key"] = effect.key
        if rendered.text is not None:
            msg.set_content(rendered.text)
            msg.add_alternative(rendered.html, subtype="html")
        else:
            msg.set_content(rendered.html, subtype="html")
        return msg, to

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.config.cafile)

    def _send(self, msg: EmailMessage, sender: str, to: str, key: str) -> Delivery:
        cfg = self.config
        where = f"{cfg.host}:{cfg.effective_port}"
        try:
            smtp: smtplib.SMTP = (
                smtplib.SMTP_SSL(
                    cfg.host, cfg.effective_port, timeout=cfg.timeout, context=self._context()
                )
                if cfg.ssl
                else smtplib.SMTP(cfg.host, cfg.effective_port, timeout=cfg.timeout)
            )
            with smtp:
                if cfg.starttls and not cfg.ssl:
                    smtp.starttls(context=self._context())
                if cfg.username:
                    smtp.login(cfg.username, cfg.password or "")
                # the envelope, not the headers, says who receives it: exactly `to`
                smtp.send_message(msg, from_addr=sender, to_addrs=[to])
                # recorded the moment the server took it, before QUIT: a crash
                # or a failing QUIT from here on cannot send it a second time
                self.sent.add(key, f"accepted by {where}")
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            return _by_code(code, f"{where} refused the recipient: {code} {_text(text)}")
        except smtplib.SMTPAuthenticationError as exc:  # fixable configuration: retry later
            return Delivery.retry(
                f"{where} refused the login ({exc.smtp_code} "
                f"{_text(exc.smtp_error)}): check JOURNEYFLOW_SMTP_USERNAME "
                "and JOURNEYFLOW_SMTP_PASSWORD"
            )
        except smtplib.SMTPNotSupportedError as exc:
            return Delivery.retry(f"{where}: {exc}; check JOURNEYFLOW_SMTP_STARTTLS/SSL")
        except smtplib.SMTPResponseException as exc:
            return _by_code(exc.smtp_code, f"{where}: {exc.smtp_code} {_text(exc.smtp_error)}")
        except (smtplib.SMTPException, OSError) as exc:  # timeouts, TLS, disconnects
            return Delivery.retry(f"{where}: {type(exc).__name__}: {exc}")
        return Delivery.sent(f"accepted by {where}")


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _by_code(code: int, detail: str) -> Delivery:
    return Delivery.give_up(detail) if 500 <= code < 600 else Delivery.retry(detail)


class Misconfigured:
    """The channel while a setting is malformed: every delivery waits, with
    the reason, so fixing the setting and restarting lets the retries through
    (as with a missing setting) instead of failing effects for good."""

    def __init__(self, reason: str) -> None:
        self.reason = f"{reason}; fix it and restart the deliverer"

    def __call__(self, effect: Effect) -> Delivery:
        return Delivery.retry(self.reason)


def make_channel(config: SmtpConfig | None = None, sent: SentKeys | None = None) -> Channel:
    """The `email` Channel (configuration from the environment by default;
    a malformed setting there gives a channel that answers every effect with
    a temporary failure naming it)."""
    if config is None:
        try:
            config = SmtpConfig.from_env()
        except ConfigError as exc:
            return Channel(
                NAME,
                deliver=Misconfigured(str(exc)),
                description="e-mail over SMTP from Jinja2 templates (misconfigured)",
            )
    sent = sent or SentKeys.in_state_dir(NAME)
    return Channel(
        NAME,
        deliver=EmailChannel(config, sent),
        description="e-mail over SMTP from Jinja2 templates",
        timeout=config.timeout,
    )


@hookimpl
def journeyflow_channels() -> Iterable[Channel]:
    return [make_channel()]
