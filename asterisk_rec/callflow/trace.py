"""What the app and Asterisk said to each other over ARI, as JSON lines (``service.ari_trace``): every
event as it reached the app, every command the call flow gave when it gave it, and Asterisk's answer when
it came. A trace of a lab call is what the replay tests feed the call flow (``testing/ari_replay``); it is
also what support asks for when a call went wrong. Off unless set: it holds the parties' numbers."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import IO, Any

from asterisk_rec.callflow.events import Event


class AriTrace:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None
        self._ids = itertools.count(1)
        self._began = time.monotonic()

    def open(self, header: dict[str, Any]) -> AriTrace:
        """``header``: what the replay needs to know of the service (its app name and call settings)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", encoding="utf-8", buffering=1)
        self._write({"header": header})
        return self

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _write(self, line: dict[str, Any]) -> None:
        if self._file is not None:
            line["t"] = round(time.monotonic() - self._began, 6)
            self._file.write(json.dumps(line, ensure_ascii=False) + "\n")

    def event(self, event: Event) -> None:
        self._write({"event": event})

    def command(self, operation: str, params: dict[str, Any]) -> int:
        """A command as given; returns its id, for its answer."""
        command_id = next(self._ids)
        self._write({"command": operation, "id": command_id, "params": params})
        return command_id

    def answer(self, command_id: int, result: Any = None, status: int | None = None, error: str | None = None) -> None:
        line: dict[str, Any] = {"answer": command_id, "result": result}
        if error is not None:
            line["error"] = {"status": status, "text": error}
        self._write(line)
