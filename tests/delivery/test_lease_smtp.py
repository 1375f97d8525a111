"""Two deliverers, one outbox, a slow real SMTP server: every e-mail once.

The first-party email plugin sends, configured through the environment as
its README says, to aiosmtpd on 127.0.0.1 whose handler takes a while over
each message. The lease is shorter than a run, and the second deliverer
starts after the first one's run has outlasted it: a lease counted from the
run's start (the old dispatcher) hands it the first's in-flight effects, and
the server gets them twice. Each deliverer keeps its own sent-keys file (two
hosts), so the channel's own deduplication cannot hide what the outbox does.
Two threads on SQLite and PostgreSQL, then two `journeyflow deliver`
processes on one SQLite file.
"""

from __future__ import annotations

import asyncio
import email
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from journeyflow.clock import SystemClock
from journeyflow.delivery.outbox import DispatchReport, dispatch
from journeyflow.plugin.manager import build_manager
from journeyflow.plugin.registry import Registry
from journeyflow.store.sql import SqlStore
from journeyflow.testing.conformance import make_effect

# the first-party plugin, installed next to journeyflow in the dev environment
journeyflow_email = pytest.importorskip("journeyflow_email")

EFFECTS = 70
SMTP_DELAY = 0.12  # seconds the server takes over each message: ~6 s for one claim of 50
SMTP_TIMEOUT = 2  # the channel's timeout: the lease cannot be shorter than one send (+1 s)
LEASE = timedelta(seconds=3)  # shorter than a run
SECOND_STARTS = 3.5  # seconds after the first: once the first run has outlasted a lease


class SlowServer:
    """An aiosmtpd handler that takes SMTP_DELAY over each message and counts
    the messages it accepted per effect key and per Message-ID."""

    def __init__(self) -> None:
        self.keys: Counter[str] = Counter()
        self.message_ids: Counter[str] = Counter()
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(SMTP_DELAY)  # asyncio: the other deliverer's sends go on meanwhile
        message = email.message_from_bytes(envelope.content)
        with self.lock:
            self.keys[str(message["X-Journeyflow-Effect-Key"])] += 1
            self.message_ids[str(message["Message-ID"])] += 1
        return "250 Message accepted for delivery"


@pytest.fixture
def slow_smtp() -> Iterator[tuple[SlowServer, int]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = SlowServer()
    controller = Controller(server, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield server, port
    finally:
        controller.stop()


def email_settings(port: int, folder: Path) -> dict[str, str]:
    """The email plugin's settings (its README's environment variables), and
    its templates written under `folder`."""
    templates = folder / "email"
    templates.mkdir()
    (templates / "welcome.subject.txt").write_text("Welcome\n")
    (templates / "welcome.html").write_text("<p>Hi {{ customer_id }}</p>\n")
    return {
        "JOURNEYFLOW_SMTP_HOST": "127.0.0.1",
        "JOURNEYFLOW_SMTP_PORT": str(port),
        "JOURNEYFLOW_SMTP_FROM": "Salon <hello@salon.example>",
        "JOURNEYFLOW_SMTP_TIMEOUT": str(SMTP_TIMEOUT),
        "JOURNEYFLOW_EMAIL_TEMPLATES": str(templates),
    }


def queue_emails(store: SqlStore) -> list[str]:
    """EFFECTS pending e-mails in the outbox, in key order; their keys."""
    keys = [f"key-{i:03d}" for i in range(EFFECTS)]
    with store.unit_of_work() as uow:
        for i, key in enumerate(keys):
            sent = make_effect(key, "email", data={"to": f"c{i}@example.com"}, customer_id=f"c{i}")
            uow.add_effect(replace(sent, seq=i))
    return keys


def email_registry(monkeypatch: pytest.MonkeyPatch, state: Path) -> Registry:
    """The email plugin as `journeyflow deliver` loads it, its settings read
    from the environment now (its sent keys under `state`)."""
    monkeypatch.setenv("JOURNEYFLOW_STATE_DIR", str(state))
    pm = build_manager(entry_points=False, disabled=())
    pm.register(journeyflow_email, name="email")
    return Registry.from_manager(pm)


def test_two_deliverers_with_a_lease_shorter_than_a_run_send_each_email_once(
    shared_url: str,
    slow_smtp: tuple[SlowServer, int],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    server, port = slow_smtp
    for name, value in email_settings(port, tmp_path).items():
        monkeypatch.setenv(name, value)
    registries = [email_registry(monkeypatch, tmp_path / f"host-{i}") for i in range(2)]
    # each deliverer opens its own store (own connections); opened here, as
    # Alembic's migration context is not thread-safe
    stores = [SqlStore(shared_url) for _ in range(2)]
    keys = queue_emails(stores[0])
    reports: list[DispatchReport] = []

    def deliverer(n: int) -> None:
        reports.append(dispatch(stores[n], registries[n], clock=SystemClock(), lease=LEASE))

    threads = [threading.Thread(target=deliverer, args=(n,)) for n in range(2)]
    threads[0].start()
    time.sleep(SECOND_STARTS)
    threads[1].start()
    for thread in threads:
        thread.join(timeout=60)
    effects = stores[0].get_effects()
    for store in stores:
        store.close()

    twice = sorted(key for key, n in server.keys.items() if n > 1)
    assert twice == [], f"{len(twice)} e-mails sent more than once"
    assert sorted(server.keys) == keys  # every one sent
    assert all(n == 1 for n in server.message_ids.values()) and len(server.message_ids) == EFFECTS
    assert {e.status for e in effects} == {"sent"}
    assert len(reports) == 2 and sum(r.sent for r in reports) == EFFECTS
    assert all(r.sent > 0 for r in reports)  # the second one did take a share


def test_two_deliver_commands_on_one_sqlite_file_send_each_email_once(
    slow_smtp: tuple[SlowServer, int], tmp_path: Path
) -> None:
    """The same, as cron would run it: two `journeyflow deliver --lease`
    processes, the second started once the first has sent for longer than a
    lease, each loading the installed plugins and its settings from the
    environment."""
    server, port = slow_smtp
    url = f"sqlite:///{tmp_path / 'jf.db'}"
    store = SqlStore(url)
    keys = queue_emails(store)
    settings = {**os.environ, **email_settings(port, tmp_path)}
    command = [str(Path(sys.executable).with_name("journeyflow")), "deliver", "-d", url]
    command += ["--lease", str(LEASE.total_seconds())]

    def start(host: str) -> subprocess.Popen[str]:
        env = {**settings, "JOURNEYFLOW_STATE_DIR": str(tmp_path / host)}
        return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)

    first = start("host-0")
    waited = time.monotonic()
    while not server.keys and time.monotonic() - waited < 30:  # its run has begun
        time.sleep(0.05)
    time.sleep(LEASE.total_seconds() + 0.5)
    second = start("host-1")
    outputs = [p.communicate(timeout=60)[0] for p in (first, second)]
    effects = store.get_effects()
    store.close()

    assert [p.returncode for p in (first, second)] == [0, 0], outputs
    twice = sorted(key for key, n in server.keys.items() if n > 1)
    assert twice == [], f"{len(twice)} e-mails sent more than once"
    assert sorted(server.keys) == keys
    assert {e.status for e in effects} == {"sent"}
