"""Idempotency for channel plugins: the effect keys a channel has delivered
(`SentKeys`), kept under the state folder (`state_dir`).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import closing
from pathlib import Path

__all__ = ["SentKeys", "state_dir"]

FILE_NAME = "sent-keys.sqlite3"  # one file under the state folder, keys per channel


class SentKeys:
    """Effect keys a channel has delivered, so a redelivery is not sent twice.

    The dispatcher marks an effect `sent` only after the channel returns; a
    crash in between makes the next run deliver it again. A channel records
    the key right after the provider accepted the message and checks it first.
    Kept in a small SQLite file (`path`), or in memory when `path` is None.
    The guarantee is at-least-once: a crash between the provider accepting
    and the key being recorded can still send twice (hence Message-ID and
    Idempotency-Key headers derived from the key, for the receiving side).

    :param path: the SQLite file (created with its folder), or None
    :param channel: keys are kept per channel name
    """

    def __init__(self, path: str | Path | None, channel: str) -> None:
        self.path = Path(path) if path is not None else None
        self.channel = channel
        self._memory: set[str] = set()
        self._lock = threading.Lock()
        self._ready = False

    @classmethod
    def in_state_dir(cls, channel: str) -> SentKeys:
        """The keys of `channel` in the shared file under `state_dir()`."""
        return cls(state_dir() / FILE_NAME, channel)

    def _connect(self) -> closing[sqlite3.Connection]:
        # created on first use, so listing plugins never writes files
        assert self.path is not None
        if not self._ready:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(sqlite3.connect(self.path, timeout=30)) as conn, conn:
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS sent_keys (channel TEXT NOT NULL, "
                    "key TEXT NOT NULL, detail TEXT, PRIMARY KEY (channel, key))"
                )
            self._ready = True
        return closing(sqlite3.connect(self.path, timeout=30))

    def __contains__(self, key: object) -> bool:
        if self.path is None:
            with self._lock:
                return key in self._memory
        with self._connect() as conn:
            row = conn.execute(
                "SELECT 1 FROM sent_keys WHERE channel = ? AND key = ?", (self.channel, key)
            ).fetchone()
        return row is not None

    def add(self, key: str, detail: str | None = None) -> None:
        """Remember that `key` was delivered."""
        if self.path is None:
            with self._lock:
                self._memory.add(key)
            return
        with self._connect() as conn, conn:
            conn.execute(
                "INSERT OR IGNORE INTO sent_keys (channel, key, detail) VALUES (?, ?, ?)",
                (self.channel, key, detail),
            )


def state_dir() -> Path:
    """Where channels keep local state (sent keys): `JOURNEYFLOW_STATE_DIR`,
    else `.journeyflow` in the working directory."""
    return Path(os.environ.get("JOURNEYFLOW_STATE_DIR") or ".journeyflow")
