"""`journeyflow run` in a subprocess, and a real SMTP server, for the service tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller


class SmtpSink:
    """aiosmtpd on loopback keeping every message's recipients and effect key."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], str]] = []
        self.lock = threading.Lock()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        import email

        key = str(email.message_from_bytes(envelope.content)["X-Journeyflow-Effect-Key"])
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), key))
        return "250 OK"

    def recipients(self) -> list[str]:
        with self.lock:
            return [to for tos, _ in self.messages for to in tos]

    def keys(self) -> list[str]:
        with self.lock:
            return [key for _, key in self.messages]

    def wait_for(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.messages)} of {count} messages after {timeout} s")
            time.sleep(0.05)

    def stop(self) -> None:
        self.controller.stop()


def email_env(port: int, folder: Path) -> dict[str, str]:
    """The e-mail plugin's settings (its README's variables) and a template."""
    templates = folder / "email-templates"
    templates.mkdir(exist_ok=True)
    (templates / "welcome.subject.txt").write_text("Welcome\n")
    (templates / "welcome.html").write_text("<p>Hi {{ customer_id }}</p>\n")
    return {
        "JOURNEYFLOW_SMTP_HOST": "127.0.0.1",
        "JOURNEYFLOW_SMTP_PORT": str(port),
        "JOURNEYFLOW_SMTP_FROM": "Salon <hello@salon.example>",
        "JOURNEYFLOW_SMTP_TIMEOUT": "5",
        "JOURNEYFLOW_EMAIL_TEMPLATES": str(templates),
        "JOURNEYFLOW_STATE_DIR": str(folder / "state"),
    }


class RunProcess:
    """`journeyflow run` on a SQLite file, on a free loopback port; its URL is
    read from its "ready" log line. Standard error is kept (read by a thread,
    so the pipe never fills)."""

    def __init__(
        self,
        db: Path,
        journeys: Path,
        key: str,
        *,
        deliver: bool = True,
        extra: Sequence[str] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.db = db
        command = [
            sys.executable, "-m", "journeyflow.cli", "run",
            "--database", f"sqlite:///{db}",
            "--journeys", str(journeys),
            "--port", "0",
            "--write-key", key,
            "--segments-every", "off",
            "--poll", "1s",
            "--grace", "60s",
            "--deliver" if deliver else "--no-deliver",
            *extra,
        ]  # fmt: skip
        full_env = {**os.environ, "JOURNEYFLOW_LOG_LEVEL": "info", **(env or {})}
        full_env.pop("JOURNEYFLOW_DATABASE_URL", None)
        self.proc = subprocess.Popen(
            command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=full_env
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.url = self._wait_ready(60)

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def _wait_ready(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if line.startswith("{"):
                    record = json.loads(line)
                    if record.get("event") == "journeyflow run ready" and record.get("url"):
                        return str(record["url"])
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.proc.kill()
        self.proc.wait(10)
        self._close()
        raise AssertionError("journeyflow run did not start:\n" + self.stderr_text())

    def stderr_text(self) -> str:
        return "\n".join(self.lines[-60:])

    def wait_applied(self, count: int, timeout: float = 60) -> None:
        """Until `count` events are stored (applied) in the database."""
        deadline = time.monotonic() + timeout
        found = 0
        while time.monotonic() < deadline:
            with sqlite3.connect(self.db, timeout=30) as conn:
                found = int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
            if found >= count:
                return
            time.sleep(0.1)
        raise AssertionError(f"{found} of {count} events applied after {timeout} s")

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 90) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        self._close()
        return code

    def _close(self) -> None:
        self._reader.join(5)
        if self.proc.stderr is not None:
            self.proc.stderr.close()

    def __enter__(self) -> RunProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._close()
