"""No credentials in what the outbox records: `redact_url`, and the dispatcher
recording a webhook whose URL carries a password and a key, against a real
HTTP server that fails."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs

from journeyflow.clock import VirtualClock
from journeyflow.delivery import redact_url
from journeyflow.delivery.http import post
from journeyflow.delivery.outbox import dispatch
from journeyflow.log import configure
from journeyflow.plugin.manager import build_manager
from journeyflow.plugin.registry import Registry
from journeyflow.store import MemoryStore
from journeyflow.testing.conformance import LocalHTTPServer, make_effect
from journeyflow.types import Delivery, Effect
from tests.delivery.test_outbox import NOW, Watcher, registry_with

journeyflow_webhook = pytest.importorskip("journeyflow_webhook")

SECRETS = ("hunter2", "sekrit")
Logged = list[MutableMapping[str, Any]]


@pytest.fixture
def logged() -> Iterator[Logged]:
    """What is logged at INFO and above, as structlog's event dicts (whatever
    level an earlier test configured, put back afterwards)."""
    saved = structlog.get_config()
    configure(level="info")
    try:
        with capture_logs() as captured:
            yield captured
    finally:
        structlog.configure(**saved)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("https://bob:hunter2@h.example/x", "https://***@h.example/x"),
        ("https://h.example/x?token=sekrit&v=2", "https://h.example/x?token=***&v=***"),
        ("https://h.example/cb#access_token=sekrit", "https://h.example/cb#***"),
        ("https://h.example?sekrit", "https://h.example?***"),
        # in prose: the punctuation after a URL stays; so does everything else
        (
            "'http://bob:hunter2@127.0.0.1:8080/hook?key=sekrit': Name or service not known.",
            "'http://***@127.0.0.1:8080/hook?key=***': Name or service not known.",
        ),
        (
            "POST https://h/a?k=1, then https://u@h/b.",
            "POST https://h/a?k=***, then https://***@h/b.",
        ),
        ("a password @ the end of a sentence", "a password @ the end of a sentence"),
        ("https://h.example/path/only", "https://h.example/path/only"),
        ("", ""),
    ],
)
def test_redact_url(text: str, shown: str) -> None:
    assert redact_url(text) == shown


def test_post_never_quotes_a_password() -> None:
    # urllib takes `bob:hunter2@127.0.0.1` for a host name; the error says so without it
    answer = post("http://bob:hunter2@127.0.0.1:1/x?key=sekrit", b"{}", {}, timeout=2)
    assert answer.delivery.status == "temporary_failure"
    assert not any(s in str(answer.delivery.detail) for s in SECRETS)
    assert "http://***@127.0.0.1:1/x?key=***" in str(answer.delivery.detail)


def test_a_webhook_url_with_credentials_is_never_recorded(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, logged: Logged
) -> None:
    with LocalHTTPServer() as server:
        server.answer(500)
        url = server.url.replace("http://", "http://bob:hunter2@") + "/hook?token=sekrit"
        monkeypatch.setenv("JOURNEYFLOW_WEBHOOK_URL", url)
        monkeypatch.setenv("JOURNEYFLOW_WEBHOOK_SECRET", "signing-key")
        monkeypatch.setenv("JOURNEYFLOW_WEBHOOK_TIMEOUT", "2")
        monkeypatch.setenv("JOURNEYFLOW_STATE_DIR", str(tmp_path / "state"))
        pm = build_manager(entry_points=False, disabled=())
        pm.register(journeyflow_webhook, name="webhook")
        watcher = Watcher()
        pm.register(watcher, name="watcher")
        store = MemoryStore()
        with store.unit_of_work() as uow:
            uow.add_effect(make_effect("k-hook", "webhook"))
        report = dispatch(store, Registry.from_manager(pm), clock=VirtualClock(NOW))
    assert report.retrying == 1  # the server's 500, or a host urllib could not find
    [stored] = store.get_effects()
    recorded = [str(stored.last_error), str(watcher.failed[0][1].detail), str(logged)]
    assert "delivery failed" in recorded[-1]
    for text in recorded:
        assert not any(s in text for s in SECRETS), text


def test_a_channel_raising_with_a_url_is_recorded_without_its_credentials(
    logged: Logged,
) -> None:
    def leaky(effect: Effect) -> Delivery:
        raise ConnectionError("https://bob:hunter2@api.example/v1?api_key=sekrit refused")

    store = MemoryStore()
    with store.unit_of_work() as uow:
        uow.add_effect(make_effect("k1", "pigeon"))
    dispatch(store, registry_with(leaky), clock=VirtualClock(NOW))
    [stored] = store.get_effects()
    assert "raised ConnectionError: https://***@api.example/v1?api_key=*** refused" in str(
        stored.last_error
    )
    events = [e["event"] for e in logged]
    assert events == ["channel raised", "delivery failed"]  # logged, and...
    assert not any(s in str(logged) for s in SECRETS)  # ...without them
