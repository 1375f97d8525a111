"""What the fleet tests run: worker processes to start, kill and restart, a
real SMTP server that notes when it accepted each message, and the inbox
filled as the HTTP ingest would fill it."""

from __future__ import annotations

import email
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from journeyflow.events import Invalid, check_event
from journeyflow.store.sql import SqlStore
from journeyflow.store.sql.inbox import Inbox

JOURNEYFLOW = str(Path(sys.executable).with_name("journeyflow"))


class TimedSmtp:
    """aiosmtpd on loopback: each message's effect key and when it was accepted."""

    def __init__(self) -> None:
        self.accepted: list[tuple[str, float]] = []
        self.lock = threading.Lock()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        key = str(email.message_from_bytes(envelope.content)["X-Journeyflow-Effect-Key"])
        with self.lock:
            self.accepted.append((key, time.time()))
        return "250 OK"

    def keys(self) -> list[str]:
        with self.lock:
            return [key for key, _ in self.accepted]

    def first_accepted(self, key: str) -> float:
        with self.lock:
            return min(at for k, at in self.accepted if k == key)

    def stop(self) -> None:
        self.controller.stop()


def email_env(port: int, folder: Path, templates: Sequence[str]) -> dict[str, str]:
    """The e-mail plugin's settings (its README's variables), its templates,
    and one sent-keys folder for the host (the plugin's advice: one per
    deployment; every worker here runs on this host)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "templates").mkdir(exist_ok=True)
    for name in templates:
        (folder / "templates" / f"{name}.subject.txt").write_text(f"{name}\n")
        (folder / "templates" / f"{name}.html").write_text("<p>Hi {{ customer_id }}</p>\n")
    return {
        "JOURNEYFLOW_SMTP_HOST": "127.0.0.1",
        "JOURNEYFLOW_SMTP_PORT": str(port),
        "JOURNEYFLOW_SMTP_FROM": "Salon <hello@salon.example>",
        "JOURNEYFLOW_SMTP_TIMEOUT": "2",
        "JOURNEYFLOW_EMAIL_TEMPLATES": str(folder / "templates"),
        "JOURNEYFLOW_STATE_DIR": str(folder / "state"),
    }


class Worker:
    """One `journeyflow run --worker --no-http` process, its log in a file."""

    def __init__(self, number: int, args: Sequence[str], env: dict[str, str], logs: Path):
        self.number = number
        self.args = list(args)
        self.env = {**os.environ, "JOURNEYFLOW_LOG_LEVEL": "info", **env}
        self.logs = logs
        self.starts = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def log(self) -> Path:
        return self.logs / f"worker-{self.number}-{self.starts}.log"

    def start(self) -> None:
        self.starts += 1
        with self.log.open("wb") as out:
            command = [JOURNEYFLOW, "run", "--worker", "--no-http", *self.args]
            self.proc = subprocess.Popen(command, stdout=out, stderr=out, env=self.env)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ready(self) -> bool:
        return "fleet worker ready" in self.log.read_text(errors="replace")

    def stop(self, timeout: float = 60) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"no exit {timeout} s after SIGTERM:\n{self.tail()}") from None

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def fill_inbox(url: str, raws: Sequence[dict[str, Any]], now: datetime, chunk: int = 500) -> int:
    """Commit `raws` to the inbox as the HTTP ingest does (checked, a
    transaction per `chunk`: a client's batch); how many were added."""
    store = SqlStore(url)
    try:
        inbox = Inbox(store)
        added = 0
        for start in range(0, len(raws), chunk):
            items = []
            for raw in raws[start : start + chunk]:
                event = check_event(raw, now)
                assert not isinstance(event, Invalid), event
                items.append((event, raw))
            added += inbox.add(items, now)[0]
        return added
    finally:
        store.close()
