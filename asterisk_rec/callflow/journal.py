"""The app's local journal: what it must write down about a call (the call before anyone rings, a
recording before it starts, parts, the end) goes first into an SQLite file on the service's own disk,
synced, and from there into PostgreSQL. So "nothing is started that is not written down" holds without
the network in the call's path, and what PostgreSQL missed while away is replayed, in order, when it is
back (the writes are idempotent, so a replay cut short by a crash repeats nothing twice).

Entries are appended in the order the app makes them, by one writer at a time in a worker thread (a
burst of them shares one commit, so one sync); the replay reads them in that order."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from asterisk_rec.errors import AsteriskRecError

log = logging.getLogger(__name__)


class JournalError(AsteriskRecError):
    error_id = "journal_failed"


@dataclass
class Pending:
    kind: str
    payload: str
    event: anyio.Event
    error: JournalError | None = None


@dataclass(frozen=True)
class Entry:
    seq: int
    kind: str
    payload: dict[str, Any]


_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    kind    TEXT NOT NULL,
    payload TEXT NOT NULL
);
-- Entries PostgreSQL refused (a constraint: not a passing fault), kept for the operator.
CREATE TABLE IF NOT EXISTS refused (
    seq     INTEGER PRIMARY KEY,
    kind    TEXT NOT NULL,
    payload TEXT NOT NULL,
    error   TEXT NOT NULL
);
"""


# Runs a blocking call off the event loop: a worker thread (the default), or in place (the ARI replay,
# whose mock clock cannot see threads).
RunSync = Callable[..., Awaitable[Any]]


class Journal:
    def __init__(self, path: Path, run_sync: RunSync = anyio.to_thread.run_sync) -> None:
        self.path = path
        self._run = run_sync
        self._lock = threading.Lock()
        self._queue: deque[Pending] = deque()
        self._writing = anyio.Lock()
        self._writer: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self.appended = anyio.Event()

    def open(self) -> Journal:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._writer.execute("PRAGMA journal_mode = WAL")
            # Every commit of an entry is synced before the app goes on.
            self._writer.execute("PRAGMA synchronous = FULL")
            self._writer.executescript(_SCHEMA)
            # Taking entries out need not be synced: one replayed again changes nothing.
            self._reader = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._reader.execute("PRAGMA synchronous = NORMAL")
        except (OSError, sqlite3.Error) as err:
            raise JournalError(f"cannot open the journal {self.path}: {err} (service.journal)") from err
        return self

    def close(self) -> None:
        for connection in (self._writer, self._reader):
            if connection is not None:
                connection.close()

    def add(self, kind: str, payload: dict[str, Any]) -> Pending:
        """Queues an entry in the order of the calls to ``add``; ``written`` waits for it to be synced."""
        pending = Pending(kind, json.dumps(payload), anyio.Event())
        self._queue.append(pending)
        return pending

    async def append(self, kind: str, payload: dict[str, Any]) -> None:
        """Returns once the entry is synced to disk; raises ``JournalError`` if it cannot be."""
        await self.written(self.add(kind, payload))

    async def written(self, pending: Pending) -> None:
        async with self._writing:
            batch = []
            while self._queue:
                batch.append(self._queue.popleft())
            if batch:
                error: JournalError | None = None
                try:
                    await self._run(self._write, [(p.kind, p.payload) for p in batch])
                except (OSError, sqlite3.Error) as err:
                    error = JournalError(f"cannot write the journal {self.path}: {err}")
                for each in batch:
                    each.error = error
                    each.event.set()
                if error is None:
                    self.appended.set()
        await pending.event.wait()
        if pending.error is not None:
            raise pending.error

    def _write(self, rows: list[tuple[str, str]]) -> None:
        assert self._writer is not None
        with self._lock:
            self._writer.execute("BEGIN IMMEDIATE")
            try:
                self._writer.executemany("INSERT INTO entries (kind, payload) VALUES (?, ?)", rows)
            except BaseException:
                self._writer.execute("ROLLBACK")
                raise
            self._writer.execute("COMMIT")

    async def pending(self, limit: int = 100) -> list[Entry]:
        entries: list[Entry] = await self._run(self._pending, limit)
        return entries

    def _pending(self, limit: int) -> list[Entry]:
        assert self._reader is not None
        with self._lock:
            rows = self._reader.execute("SELECT seq, kind, payload FROM entries ORDER BY seq LIMIT ?",
                                        (limit,)).fetchall()
        return [Entry(seq, kind, json.loads(payload)) for seq, kind, payload in rows]

    async def done(self, seqs: list[int]) -> None:
        await self._run(self._done, seqs)

    def _done(self, seqs: list[int]) -> None:
        assert self._reader is not None
        with self._lock:
            self._reader.executemany("DELETE FROM entries WHERE seq = ?", [(s,) for s in seqs])

    async def refuse(self, entry: Entry, error: str) -> None:
        await self._run(self._refuse, entry, error)

    def _refuse(self, entry: Entry, error: str) -> None:
        assert self._reader is not None
        with self._lock:
            self._reader.execute("BEGIN IMMEDIATE")
            self._reader.execute("INSERT OR REPLACE INTO refused (seq, kind, payload, error) VALUES (?, ?, ?, ?)",
                                 (entry.seq, entry.kind, json.dumps(entry.payload), error))
            self._reader.execute("DELETE FROM entries WHERE seq = ?", (entry.seq,))
            self._reader.execute("COMMIT")

    async def latest(self, kind: str, name: str) -> Entry | None:
        """The newest entry of ``kind`` about the recording ``name`` still waiting for PostgreSQL."""
        found: Entry | None = await self._run(self._latest, kind, name)
        return found

    def _latest(self, kind: str, name: str) -> Entry | None:
        assert self._reader is not None
        with self._lock:
            row = self._reader.execute(
                "SELECT seq, kind, payload FROM entries WHERE kind = ? AND json_extract(payload, '$.name') = ?"
                " ORDER BY seq DESC LIMIT 1", (kind, name)).fetchone()
        return Entry(row[0], row[1], json.loads(row[2])) if row else None

    def count(self) -> int:
        assert self._reader is not None
        with self._lock:
            row = self._reader.execute("SELECT count(*) FROM entries").fetchone()
        return int(row[0])
