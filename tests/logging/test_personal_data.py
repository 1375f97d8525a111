"""No e-mail address or phone number reaches a log line, in either format."""

from __future__ import annotations

import json

import pytest
import structlog

from journeyflow import log


@pytest.fixture(autouse=True)
def _restore_logging() -> object:
    yield
    log.configure()


def test_addresses_and_numbers_in_any_value_are_replaced(
    capsys: pytest.CaptureFixture[str],
) -> None:
    log.configure("info", "json")
    structlog.get_logger("t").info(
        "send failed for ana.lima+news@example.com",
        error="550 <joao@mail.example.pt> unknown; SMS to +351 912 345 678 refused",
        nested={"detail": ["call +44 20 7946 0958", "ok"], "count": 3},
        customer_id="c-17",
        amount=1700000000000,
    )
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["event"] == "send failed for <email>"
    assert line["error"] == "550 <<email>> unknown; SMS to <phone> refused"
    assert line["nested"] == {"detail": ["call <phone>", "ok"], "count": 3}
    assert line["customer_id"] == "c-17"  # the operator's key to the history stays
    assert line["amount"] == 1700000000000  # numbers are not phone numbers


@pytest.mark.parametrize("field", ["email", "phone", "to", "recipient", "address", "mobile"])
def test_fields_named_for_personal_data_are_hidden_whole(
    field: str, capsys: pytest.CaptureFixture[str]
) -> None:
    log.configure("info", "console")
    structlog.get_logger("t").info("delivered", **{field: "Ana Lima, Rua Augusta 1, Lisboa"})
    text = capsys.readouterr().err
    assert f"{field}=<hidden>" in text
    assert "Augusta" not in text


def test_dates_ids_and_plain_digits_are_left_alone() -> None:
    text = "order 2026-12-02T10:00:00+00:00 id 123456789012 total +5 EUR"
    assert log.redact_text(text) == text
