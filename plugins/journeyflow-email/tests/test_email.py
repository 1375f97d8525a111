"""The email channel against a real SMTP server (aiosmtpd) on 127.0.0.1:
plain, STARTTLS with AUTH, and the conformance suite."""

from __future__ import annotations

import asyncio
import email
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("aiosmtpd")
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from journeyflow_email import SmtpConfig, make_channel, message_id

from journeyflow import (
    Channel,
    Effect,
    MemoryStore,
    Registry,
    VirtualClock,
    build_manager,
    dispatch,
)
from journeyflow.delivery import SentKeys
from journeyflow.store import CustomerRecord
from journeyflow.testing.conformance import ChannelConformance, make_effect

SENDER = "Salon <hello@salon.example>"


class Recorder:
    """An aiosmtpd handler that keeps accepted messages and can refuse or hang."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.recipients: list[str] = []  # every RCPT TO the server was asked for
        self.mode: str | None = None
        self.closing = False

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        self.recipients.append(address)
        if self.mode == "permanent":
            return "550 5.1.1 No such user here"
        while self.mode == "hang" and not self.closing:
            await asyncio.sleep(0.02)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.mode == "temporary":
            return "451 4.3.0 Try again later"
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"

    def accepted(self, key: str) -> int:
        return sum(1 for m in self.messages if m["X-Journeyflow-Effect-Key"] == key)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    folder = tmp_path / "email"
    folder.mkdir()
    (folder / "welcome.subject.txt").write_text("Welcome, {{ name }} & co\n")
    (folder / "welcome.html").write_text("<p>Hi {{ name }}, your coupon: {{ coupon }}</p>\n")
    (folder / "welcome.txt").write_text("Hi {{ name }}, your coupon: {{ coupon }}\n")
    (folder / "bare.subject.txt").write_text("Just HTML")
    (folder / "bare.html").write_text("<p>{{ customer.first_name }}</p>")
    return folder


@pytest.fixture
def smtp() -> Iterator[tuple[Recorder, int]]:
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield recorder, controller.port
    finally:
        recorder.closing = True
        controller.stop()


def config(port: int, templates: Path, **more: Any) -> SmtpConfig:
    return SmtpConfig(host="127.0.0.1", port=port, sender=SENDER, templates=templates, **more)


def effect(key: str = "k-1", **data: Any) -> Effect:
    return make_effect(
        key, "email", data={"to": "ana@example.com", "name": "Ana", "coupon": "GIFT10", **data}
    )


# --- conformance -------------------------------------------------------------------


class Harness:
    modes = frozenset({"temporary", "permanent", "hang"})

    def __init__(self, recorder: Recorder, port: int, templates: Path, tmp: Path) -> None:
        self.recorder, self.port, self.templates = recorder, port, templates
        self.keys = tmp / "sent.sqlite3"

    def channel(self, *, timeout: float) -> Channel:
        return make_channel(
            config(self.port, self.templates, timeout=timeout), SentKeys(self.keys, "email")
        )

    def effect(self, key: str) -> Effect:
        return effect(key)

    def deliveries(self, key: str) -> int:
        return self.recorder.accepted(key)

    def set_mode(self, mode: str | None) -> None:
        self.recorder.mode = mode


class TestEmailConformance(ChannelConformance):
    @pytest.fixture
    def harness(self, smtp: tuple[Recorder, int], templates: Path, tmp_path: Path) -> Harness:
        return Harness(*smtp, templates, tmp_path)


# --- messages ------------------------------------------------------------------------


def test_message_is_rendered_from_templates(smtp: tuple[Recorder, int], templates: Path) -> None:
    recorder, port = smtp
    channel = make_channel(config(port, templates), SentKeys(None, "email"))
    assert channel.deliver(effect("k-render", name="<Ana>")).status == "sent"
    [msg] = recorder.messages
    assert msg["To"] == "ana@example.com"
    assert msg["From"] == SENDER
    assert msg["Subject"] == "Welcome, <Ana> & co"  # plain text: not escaped
    assert msg["Message-ID"] == "<k-render@salon.example>"
    assert msg.is_multipart()
    text, html = (
        part.get_payload(decode=True).decode() for part in msg.walk() if not part.is_multipart()
    )
    assert text.strip() == "Hi <Ana>, your coupon: GIFT10"
    assert html.strip() == "<p>Hi &lt;Ana&gt;, your coupon: GIFT10</p>"  # autoescaped


def test_recipient_and_values_from_the_customer(
    smtp: tuple[Recorder, int], templates: Path
) -> None:
    recorder, port = smtp
    channel = make_channel(config(port, templates), SentKeys(None, "email"))
    bare = replace(
        make_effect("k-bare", "email", template="bare"),
        customer={"email": "bia@example.com", "first_name": "Bia"},
    )
    assert channel.deliver(bare).status == "sent"
    [msg] = recorder.messages
    assert msg["To"] == "bia@example.com" and recorder.recipients == ["bia@example.com"]
    assert not msg.is_multipart() and "<p>Bia</p>" in msg.get_payload(decode=True).decode()


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"data": {"name": "Ana", "coupon": "c"}}, "no e-mail address"),
        ({"data": {"to": "a@b.c", "name": "Ana"}}, "'coupon' is undefined"),
        ({"data": {"to": "a@b.c"}, "template": "missing"}, "'missing.subject.txt' not found"),
    ],
)
def test_unsendable_effects_fail_permanently(
    smtp: tuple[Recorder, int], templates: Path, kwargs: dict[str, Any], words: str
) -> None:
    recorder, port = smtp
    channel = make_channel(config(port, templates), SentKeys(None, "email"))
    delivery = channel.deliver(make_effect("k-bad", "email", **kwargs))
    assert delivery.status == "permanent_failure"
    assert words in (delivery.detail or "")
    assert recorder.messages == []


# --- recipients: one address, never smuggled ones ------------------------------------


@pytest.mark.parametrize(
    ("to", "words"),
    [
        ("me@x.example, victim1@y.example, victim2@y.example", "several addresses"),
        ("me@x.example;victim@y.example", "several addresses"),
        ("me@x.example victim@y.example", "several addresses"),
        ("Bob <victim@y.example>", "display name"),
        ("<victim@y.example>", "angle brackets"),
        ('"me@x.example"@y.example', "several addresses"),
        ("undisclosed:victim@y.example;", "several addresses"),
        ("friends:victim@y.example", "group syntax"),
        ("me@x.example\r\nBcc: victim@y.example", "line break"),
        ("me@x.example\nX-Evil: 1", "line break"),
        ("   ", "empty"),
        ("x" * 300 + "@x.example", "longer than 254"),
        ("x" * 65 + "@x.example", "too long"),
        ("me@localhost", "not a valid e-mail address"),
        ("me@[127.0.0.1]", "not a valid e-mail address"),
    ],
)
def test_a_bad_recipient_is_a_permanent_failure_and_nobody_gets_mail(
    smtp: tuple[Recorder, int], templates: Path, to: str, words: str
) -> None:
    recorder, port = smtp
    channel = make_channel(config(port, templates), SentKeys(None, "email"))
    delivery = channel.deliver(effect("k-trick", to=to))
    assert delivery.status == "permanent_failure"
    detail = delivery.detail or ""
    assert "data.to" in detail and words in detail
    assert len(detail) < 300 and "\n" not in detail  # cut short, escaped: no forged log lines
    assert recorder.recipients == [] and recorder.messages == []


def test_the_comma_trick_through_the_outbox_records_a_permanent_failure(
    smtp: tuple[Recorder, int], templates: Path
) -> None:
    """The reported attack, end to end: a customer's `email` trait lists three
    addresses. The outbox row fails for good, naming the problem; the SMTP
    server is never asked for a recipient. A clean address then goes to
    exactly one mailbox."""
    recorder, port = smtp
    registry = Registry.from_manager(build_manager(entry_points=False, disabled=()))
    registry.channels["email"] = make_channel(config(port, templates), SentKeys(None, "email"))
    store = MemoryStore()
    evil = "me@x.example, victim1@y.example, victim2@y.example"
    store.customers["c-evil"] = CustomerRecord("c-evil", {"email": evil})
    store.customers["c-ok"] = CustomerRecord("c-ok", {"email": "ana@example.com"})
    for key, customer in (("k-evil", "c-evil"), ("k-ok", "c-ok")):
        store.effects[key] = replace(
            make_effect(key, "email", data={"name": "Ana", "coupon": "C"}),
            customer_id=customer,
        )
    report = dispatch(store, registry, clock=VirtualClock(datetime(2026, 3, 1, tzinfo=UTC)))
    assert (report.sent, report.failed) == (1, 1)
    effects = {e.key: e for e in store.get_effects()}
    assert effects["k-evil"].status == "failed"
    assert "several addresses" in (effects["k-evil"].last_error or "")
    assert "victim2" not in (effects["k-evil"].last_error or "")  # cut short
    assert effects["k-ok"].status == "sent"
    assert recorder.recipients == ["ana@example.com"]
    [msg] = recorder.messages
    assert msg["To"] == "ana@example.com"


def test_a_valid_address_is_normalised_and_delivered_once(
    smtp: tuple[Recorder, int], templates: Path
) -> None:
    recorder, port = smtp
    channel = make_channel(config(port, templates), SentKeys(None, "email"))
    assert channel.deliver(effect("k-norm", to="Ana.Silva@EXAMPLE.com")).status == "sent"
    assert channel.deliver(effect("k-norm", to="Ana.Silva@EXAMPLE.com")).status == "sent"
    assert recorder.recipients == ["Ana.Silva@example.com"]
    assert [m["To"] for m in recorder.messages] == ["Ana.Silva@example.com"]


def test_an_international_domain_goes_out_in_ascii(
    smtp: tuple[Recorder, int], templates: Path
) -> None:
    recorder, port = smtp
    channel = make_channel(config(port, templates), SentKeys(None, "email"))
    assert channel.deliver(effect("k-idn", to="ana@bücher.example")).status == "sent"
    assert recorder.recipients == ["ana@xn--bcher-kva.example"]


def test_a_non_string_recipient_is_refused(smtp: tuple[Recorder, int], templates: Path) -> None:
    recorder, port = smtp
    channel = make_channel(config(port, templates), SentKeys(None, "email"))
    delivery = channel.deliver(effect("k-list", to=["a@x.example", "b@y.example"]))
    assert delivery.status == "permanent_failure"
    assert "one e-mail address as a string, not list" in (delivery.detail or "")
    assert recorder.recipients == []


def test_the_customer_attribute_is_checked_too(smtp: tuple[Recorder, int], templates: Path) -> None:
    recorder, port = smtp
    channel = make_channel(config(port, templates), SentKeys(None, "email"))
    bare = replace(
        make_effect("k-attr", "email", template="bare"),
        customer={"email": "Bob <victim@y.example>", "first_name": "Bob"},
    )
    delivery = channel.deliver(bare)
    assert delivery.status == "permanent_failure"
    assert "the customer's email attribute: a display name" in (delivery.detail or "")
    assert recorder.recipients == []


def test_template_values_cannot_add_headers(smtp: tuple[Recorder, int], templates: Path) -> None:
    """The subject is rendered from data; a line break in a value is folded
    into one line, never a new header or recipient."""
    recorder, port = smtp
    channel = make_channel(config(port, templates), SentKeys(None, "email"))
    name = "Ana\r\nBcc: victim@y.example\r\nX-Evil: 1\u2028Reply-To: evil@y.example"
    assert channel.deliver(effect("k-inject", name=name)).status == "sent"
    [msg] = recorder.messages
    assert recorder.recipients == ["ana@example.com"]
    assert msg["Bcc"] is None and msg["X-Evil"] is None and msg["Reply-To"] is None
    assert {name.lower() for name in msg} == {  # the header names
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "x-journeyflow-effect-key",
        "content-type",
        "mime-version",
    }
    # long subjects are folded onto continuation lines, which unfold to one line
    assert " ".join(msg["Subject"].split()).startswith("Welcome, Ana Bcc: victim@y.example X-")


def test_message_id_uses_the_sender_domain() -> None:
    assert message_id("abc", "Salon <hi@salon.example>") == "<abc@salon.example>"
    assert message_id("abc", "nobody") == "<abc@journeyflow.invalid>"


def test_config_from_environment() -> None:
    cfg = SmtpConfig.from_env(
        {
            "JOURNEYFLOW_SMTP_HOST": "mail",
            "JOURNEYFLOW_SMTP_STARTTLS": "1",
            "JOURNEYFLOW_SMTP_USERNAME": "u",
            "JOURNEYFLOW_SMTP_FROM": "a@b.example",
            "JOURNEYFLOW_EMAIL_TEMPLATES": "/t",
        }
    )
    assert (cfg.host, cfg.effective_port, cfg.starttls, cfg.username) == ("mail", 587, True, "u")
    assert str(cfg.templates) == "/t"
    assert SmtpConfig.from_env({"JOURNEYFLOW_SMTP_SSL": "true"}).effective_port == 465
    assert SmtpConfig.from_env({}).effective_port == 25


def test_server_down_is_temporary(templates: Path) -> None:
    channel = make_channel(config(_free_port(), templates, timeout=2), SentKeys(None, "email"))
    assert channel.deliver(effect()).status == "temporary_failure"


# --- STARTTLS and AUTH ---------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed: cannot make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_smtp(certificate: tuple[Path, Path]) -> Iterator[tuple[Recorder, int, list[bytes]]]:
    cert, key = certificate
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    logins: list[bytes] = []
    lock = threading.Lock()

    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"journey",
            b"s3cret",
        )
        with lock:
            logins.append(data.login if isinstance(data, LoginPassword) else b"?")
        return AuthResult(success=ok, handled=False)  # the server answers 235/535

    recorder = Recorder()
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=_free_port(),
        tls_context=server_tls,
        require_starttls=True,
        auth_required=True,
        authenticator=authenticator,
    )
    controller.start()
    try:
        yield recorder, controller.port, logins
    finally:
        controller.stop()


def test_starttls_and_login(
    tls_smtp: tuple[Recorder, int, list[bytes]], templates: Path, certificate: tuple[Path, Path]
) -> None:
    recorder, port, logins = tls_smtp
    cfg = config(
        port,
        templates,
        starttls=True,
        username="journey",
        password="s3cret",
        cafile=str(certificate[0]),
    )
    assert make_channel(cfg, SentKeys(None, "email")).deliver(effect("k-tls")).status == "sent"
    assert logins == [b"journey"]
    assert recorder.accepted("k-tls") == 1


def test_wrong_password_is_temporary_and_says_what_to_check(
    tls_smtp: tuple[Recorder, int, list[bytes]], templates: Path, certificate: tuple[Path, Path]
) -> None:
    recorder, port, _ = tls_smtp
    cfg = config(
        port,
        templates,
        starttls=True,
        username="journey",
        password="nope",
        cafile=str(certificate[0]),
    )
    delivery = make_channel(cfg, SentKeys(None, "email")).deliver(effect("k-auth"))
    assert delivery.status == "temporary_failure"
    assert "JOURNEYFLOW_SMTP_PASSWORD" in (delivery.detail or "")
    assert recorder.messages == []


def test_untrusted_certificate_is_refused(
    tls_smtp: tuple[Recorder, int, list[bytes]], templates: Path
) -> None:
    recorder, port, _ = tls_smtp
    cfg = config(port, templates, starttls=True, username="journey", password="s3cret")
    delivery = make_channel(cfg, SentKeys(None, "email")).deliver(effect("k-untrusted"))
    assert delivery.status == "temporary_failure"
    assert "CERTIFICATE_VERIFY_FAILED" in (delivery.detail or "")
    assert recorder.messages == []


def test_without_starttls_the_server_refuses(
    tls_smtp: tuple[Recorder, int, list[bytes]], templates: Path
) -> None:
    recorder, port, _ = tls_smtp
    cfg = config(port, templates, username="journey", password="s3cret")
    delivery = make_channel(cfg, SentKeys(None, "email")).deliver(effect("k-plain"))
    assert delivery.status == "temporary_failure"
    assert recorder.messages == []


def test_implicit_tls(certificate: tuple[Path, Path], templates: Path) -> None:
    cert, key = certificate
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    recorder = Recorder()
    controller = Controller(
        recorder, hostname="127.0.0.1", port=_free_port(), ssl_context=server_tls
    )
    controller.start()
    try:
        cfg = config(controller.port, templates, ssl=True, cafile=str(cert))
        assert make_channel(cfg, SentKeys(None, "email")).deliver(effect("k-ssl")).status == "sent"
    finally:
        controller.stop()
    assert recorder.accepted("k-ssl") == 1
