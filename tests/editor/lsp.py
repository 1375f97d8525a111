"""A tiny Language Server Protocol client over stdio, for the editor tests.

Just enough JSON-RPC to talk to yaml-language-server as an editor does:
framed messages (`Content-Length` headers), requests with ids, notifications,
and answers to the few requests the server sends back (its settings, dynamic
registrations). A reader thread queues what the server writes, so a test can
wait for a message without blocking on a pipe.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

WAIT_SECONDS = 60.0  # a generous bound for a loaded machine; never a timing assert


class ServerGone(RuntimeError):
    """The server closed its output or did not answer within WAIT_SECONDS."""


class LanguageClient:
    def __init__(self, command: list[str], settings: dict[str, Any], cwd: Path) -> None:
        self.settings = settings
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._next_id = 0
        self._incoming: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.notifications: list[dict[str, Any]] = []
        assert self.process.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True)
        self._reader.start()

    # --- the wire ------------------------------------------------------------

    def _write(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def _read(self, stream: IO[bytes]) -> None:
        while True:
            length = None
            while True:
                line = stream.readline()
                if not line:
                    self._incoming.put(None)
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode("ascii").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if length is None:
                continue
            self._incoming.put(json.loads(stream.read(length)))

    def _next(self) -> dict[str, Any]:
        try:
            message = self._incoming.get(timeout=WAIT_SECONDS)
        except queue.Empty:
            raise ServerGone(f"no message from the server in {WAIT_SECONDS:.0f} s") from None
        if message is None:
            raise ServerGone("the server closed its output")
        if "method" in message and "id" in message:  # the server asks something
            self._write({"id": message["id"], "result": self._answer(message)})
        elif "method" in message:
            self.notifications.append(message)
        return message

    def _answer(self, request: dict[str, Any]) -> Any:
        if request["method"] == "workspace/configuration":
            items = request.get("params", {}).get("items", [])
            return [self.settings.get(item.get("section", ""), None) for item in items]
        return None  # client/registerCapability, window/workDoneProgress/create...

    # --- what a test calls -----------------------------------------------------

    def request(self, method: str, params: dict[str, Any]) -> Any:
        self._next_id += 1
        ident = self._next_id
        self._write({"id": ident, "method": method, "params": params})
        while True:
            message = self._next()
            if message.get("id") == ident and "method" not in message:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result")

    def notify(self, method: str, params: dict[str, Any]) -> None:
        self._write({"method": method, "params": params})

    def wait_for(self, method: str, matching: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The params of the first notification `method` (seen or to come) that match."""
        seen = 0
        while True:
            for note in self.notifications[seen:]:
                if note["method"] == method and matching(note.get("params", {})):
                    return dict(note.get("params", {}))
            seen = len(self.notifications)
            self._next()

    def close(self) -> None:
        try:
            self.request("shutdown", {})
            self.notify("exit", {})
            self.process.wait(timeout=10)
        except (ServerGone, OSError, subprocess.TimeoutExpired, RuntimeError):
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=10)  # it stops at the end of the server's output
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
