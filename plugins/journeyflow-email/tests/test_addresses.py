"""E-mail addresses and the settings they come from, checked without a server:
one bare recipient, one From mailbox, malformed settings named, the password
never shown. (Sending, and sending nothing, is in test_email.py.)"""

from __future__ import annotations

import pytest
from journeyflow_email import ConfigError, SmtpConfig, make_channel
from journeyflow_email.addresses import AddressError, mailbox, recipient

from journeyflow.testing.conformance import make_effect


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ana@example.com", "ana@example.com"),
        ("Ana.Silva+promo@Example.COM", "Ana.Silva+promo@example.com"),
        ("ana@xn--bcher-kva.example", "ana@xn--bcher-kva.example"),
        ("ana@bücher.example", "ana@xn--bcher-kva.example"),  # ASCII on the wire
        ("zoë@bücher.example", "zoë@bücher.example"),  # needs SMTPUTF8 whatever we do
    ],
)
def test_one_bare_address_is_accepted_and_normalised(value: str, expected: str) -> None:
    assert recipient(value, "data.to") == expected


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("a@x.example,b@y.example", "several addresses"),
        ("a@x.example; b@y.example", "several addresses"),
        ("a@b@y.example", "several addresses"),
        ("Bob <victim@y.example>", "display name"),
        ('"Bob" victim@y.example', "quotes"),
        ("team: a@x.example", "group syntax"),
        ("a@x.example\rBcc: v@y.example", "line break"),
        ("a@x.example\u2028", "line break"),
        ("a@x.example\x00", "control character"),
        ("", "empty"),
        ("no-at-sign", "must have an @-sign"),
        ("a@x.invalid", "special-use or reserved"),
        ("a..b@x.example", "not a valid e-mail address"),
    ],
)
def test_anything_but_one_address_is_refused_with_the_reason(value: str, words: str) -> None:
    with pytest.raises(AddressError) as caught:
        recipient(value, "data.to")
    assert str(caught.value).startswith("data.to: ") and words in str(caught.value)


def test_a_long_bad_value_is_quoted_cut_short() -> None:
    value = "a@x.example," + ",".join(f"victim{i}@y.example" for i in range(200))
    with pytest.raises(AddressError) as caught:
        recipient(value, "data.to")
    assert "victim199" not in str(caught.value)
    assert f"({len(value)} characters)" in str(caught.value)


@pytest.mark.parametrize("value", [7, ["a@x.example"], {"to": "a@x.example"}])
def test_a_recipient_must_be_a_string(value: object) -> None:
    with pytest.raises(AddressError, match="one e-mail address as a string"):
        recipient(value, "data.to")


@pytest.mark.parametrize(
    ("value", "header", "address"),
    [
        ("hello@salon.example", "hello@salon.example", "hello@salon.example"),
        ("Salon <hello@salon.example>", "Salon <hello@salon.example>", "hello@salon.example"),
        (
            '"Salon, Inc." <hi@salon.example>',
            '"Salon, Inc." <hi@salon.example>',
            "hi@salon.example",
        ),
    ],
)
def test_the_from_mailbox_may_have_a_display_name(value: str, header: str, address: str) -> None:
    box = mailbox(value, "JOURNEYFLOW_SMTP_FROM")
    assert (box.header, box.address) == (header, address)


@pytest.mark.parametrize(
    "sender",
    [
        "a@x.example, b@y.example",
        "Salon <a@x.example>, Evil <b@y.example>",
        "Salon <hello@salon>",
        "hello@salon.example\r\nBcc: victim@y.example",
        "list: a@x.example;",
        "   ",
    ],
)
def test_a_bad_from_setting_is_an_error_naming_it(sender: str) -> None:
    with pytest.raises(ConfigError, match=r"^JOURNEYFLOW_SMTP_FROM: "):
        SmtpConfig.from_env({"JOURNEYFLOW_SMTP_FROM": sender})


@pytest.mark.parametrize(
    ("name", "value"),
    [("JOURNEYFLOW_SMTP_PORT", "smtp"), ("JOURNEYFLOW_SMTP_TIMEOUT", "soon")],
)
def test_a_bad_number_setting_is_an_error_naming_it(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"^{name} must be a number"):
        SmtpConfig.from_env({name: value})
    with pytest.raises(ConfigError, match="JOURNEYFLOW_SMTP_PORT must be 1-65535"):
        SmtpConfig(port=70000)


def test_a_bad_setting_makes_deliveries_wait_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Loading must not fail (the channel would vanish and its effects fail for
    good): every delivery is a temporary failure naming the setting."""
    monkeypatch.setenv("JOURNEYFLOW_SMTP_FROM", "a@x.example, b@y.example")
    delivery = make_channel().deliver(make_effect("k", "email", data={"to": "a@x.example"}))
    assert delivery.status == "temporary_failure"
    assert (delivery.detail or "").startswith("JOURNEYFLOW_SMTP_FROM: not a valid e-mail address")
    assert "restart" in (delivery.detail or "")


def test_the_password_is_never_shown() -> None:
    cfg = SmtpConfig(username="journey", password="s3cret-pw", sender="a@x.example")
    assert "s3cret-pw" not in repr(cfg) and "s3cret-pw" not in str(cfg)
    assert "journey" in repr(cfg)
