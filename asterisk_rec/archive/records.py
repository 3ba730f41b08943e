"""The recordings table: a row from the moment the app starts a recording, completed by the archive.
The app writes the call's side (notice, join, recorded parts), the archive the file's (path, hash, size,
duration, format): neither overwrites the other's columns, so they may finish in either order."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from asterisk_rec.adapters.db import Database
from asterisk_rec.archive.store import ArchivedFile
from asterisk_rec.completeness import wire
from asterisk_rec.completeness.model import Coverage, Part
from asterisk_rec.directory.models import ArchiveFormat
from asterisk_rec.errors import Conflict
from asterisk_rec.recording.naming import RecordingName


@dataclass(frozen=True)
class StoredRecording:
    name: str
    call_id: str
    organisation_id: int
    path: str
    sha256: str
    size_bytes: int
    format: str


def _parts(parts: list[Part]) -> str:
    return json.dumps(wire.parts_out(parts))


def _excused(coverage: Coverage) -> str:
    return json.dumps(wire.excused_out(coverage.excused))


Connection = psycopg.AsyncConnection[Any]


class RecordingStore:
    """The call's side may be written in a transaction of the caller's (``conn``: the journal's entries
    go into PostgreSQL a batch at a time)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @asynccontextmanager
    async def _connection(self, conn: Connection | None) -> AsyncIterator[Connection]:
        if conn is not None:
            yield conn
            return
        async with self.db.pool.connection() as fresh, fresh.transaction():
            yield fresh

    async def recording_started(self, name: str, call_id: str, organisation_id: int, owners: tuple[int, ...],
                                started_at: datetime, conn: Connection | None = None) -> None:
        async with self._connection(conn) as conn:
            await conn.execute(
                "WITH started AS ("
                " INSERT INTO recordings (call_id, name, organisation_id, started_at) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (name) DO UPDATE SET started_at = LEAST(recordings.started_at, EXCLUDED.started_at)"
                " RETURNING id)"
                " INSERT INTO recording_owners (recording_id, organisation_id)"
                " SELECT started.id, owner FROM started, unnest(%s::bigint[]) AS owner ON CONFLICT DO NOTHING",
                (call_id, name, organisation_id, started_at, sorted({organisation_id, *owners})))

    async def recording_ended(self, name: str, *, notice_finished_at: datetime | None, joined_at: datetime | None,
                              covered: Coverage, required_until: datetime | None, discarded: bool,
                              failed: bool = False, conn: Connection | None = None) -> None:
        """``failed``: Asterisk never recorded it (it is then not discarded but failed: the completeness
        check reports it); a stored one stays stored."""
        async with self._connection(conn) as conn:
            await conn.execute(
                "UPDATE recordings SET notice_finished_at = %s, joined_at = %s, parts = %s,"
                " required_since = %s, required_until = %s, excused = %s,"
                " state = CASE WHEN state = 'recording' AND %s THEN 'failed'"
                " WHEN state = 'recording' AND %s THEN 'discarded' ELSE state END WHERE name = %s",
                (notice_finished_at, joined_at, _parts(covered.parts), covered.required_since, required_until,
                 _excused(covered), failed, discarded, name))

    async def parts_changed(self, name: str, covered: Coverage, conn: Connection | None = None) -> None:
        """The recorded parts so far, kept as they change: a restarted service finds them again."""
        async with self._connection(conn) as conn:
            await conn.execute("UPDATE recordings SET parts = %s, required_since = %s, excused = %s WHERE name = %s",
                               (_parts(covered.parts), covered.required_since, _excused(covered), name))

    async def covered(self, name: str) -> Coverage:
        async with self.db.pool.connection() as conn:
            cursor = await conn.execute("SELECT parts, required_since, excused FROM recordings WHERE name = %s",
                                        (name,))
            row = await cursor.fetchone()
        if row is None:
            return Coverage([])
        return Coverage(wire.parts_in(row[0]), row[1], wire.excused_in(row[2]))

    async def archive_format(self, organisation_id: int) -> ArchiveFormat | None:
        """The organisation's archive format; None if it does not exist (any more)."""
        async with self.db.pool.connection() as conn:
            cursor = await conn.execute("SELECT archive_format FROM organisations WHERE id = %s", (organisation_id,))
            row = await cursor.fetchone()
        return ArchiveFormat(row[0]) if row else None

    async def recording_stored(self, name: str, parsed: RecordingName, file: ArchivedFile, relative: Path,
                               archive_format: ArchiveFormat) -> None:
        """Records the archived file; a recording the app never wrote down (its write failed, or Asterisk
        kept a file nobody knew of) gets its row here."""
        # One statement (its own transaction): a round trip a recording, not four.
        async with self.db.pool.connection() as conn:
            await conn.execute(
                "WITH stored AS ("
                " INSERT INTO recordings (call_id, name, organisation_id, started_at, state, format, path, sha256,"
                " size_bytes, duration_seconds, stored_at)"
                " VALUES (%s, %s, %s, now() - make_interval(secs => %s), 'stored', %s, %s, %s, %s, %s, now())"
                " ON CONFLICT (name) DO UPDATE SET state = 'stored', format = EXCLUDED.format,"
                " path = EXCLUDED.path, sha256 = EXCLUDED.sha256, size_bytes = EXCLUDED.size_bytes,"
                " duration_seconds = EXCLUDED.duration_seconds, stored_at = EXCLUDED.stored_at, last_error = NULL"
                " RETURNING id)"
                " INSERT INTO recording_owners (recording_id, organisation_id) SELECT id, %s FROM stored"
                " ON CONFLICT DO NOTHING",
                (parsed.call_id, name, parsed.organisation_id, file.seconds, archive_format.value, str(relative),
                 file.sha256, file.size, file.seconds, parsed.organisation_id))

    async def unfinished(self, older_than_seconds: float) -> list[str]:
        """Recordings the app started that are neither stored nor discarded."""
        async with self.db.pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT name FROM recordings WHERE state = 'recording'"
                " AND started_at < now() - make_interval(secs => %s) ORDER BY id", (older_than_seconds,))
            return [row[0] for row in await cursor.fetchall()]

    async def attempt_failed(self, name: str, error: str) -> None:
        async with self.db.pool.connection() as conn:
            await conn.execute("UPDATE recordings SET attempts = attempts + 1, last_error = %s WHERE name = %s",
                               (error, name))

    async def stored(self, organisation_id: int | None = None) -> list[StoredRecording]:
        """The archived recordings (in one organisation's tree, if given)."""
        async with self.db.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute("SELECT name, call_id, organisation_id, path, sha256, size_bytes, format"
                              " FROM recordings WHERE state = 'stored'"
                              " AND (%(org)s::bigint IS NULL OR organisation_id = %(org)s) ORDER BY id",
                              {"org": organisation_id})
            rows: list[dict[str, Any]] = await cur.fetchall()
        return [StoredRecording(**row) for row in rows]

    async def set_hold(self, recording_id: int, organisation_id: int, hold: bool) -> None:
        """Places or lifts ``organisation_id``'s legal hold, under the row's lock (the purge takes it too, so
        a hold and the purge never cross). A recording no longer stored cannot be held."""
        async with self.db.pool.connection() as conn, conn.transaction():
            cursor = await conn.execute("SELECT state, purged_at FROM recordings WHERE id = %s FOR UPDATE",
                                        (recording_id,))
            row = await cursor.fetchone()
            if hold and (row is None or row[0] != "stored"):
                when = f" on {row[1]:%Y-%m-%d}" if row is not None and row[1] is not None else ""
                raise Conflict(f"the recording was deleted{when} (its retention period was over): it cannot be"
                               " put under legal hold")
            if hold:
                await conn.execute("INSERT INTO recording_holds (recording_id, organisation_id) VALUES (%s, %s)"
                                   " ON CONFLICT DO NOTHING", (recording_id, organisation_id))
            else:
                await conn.execute("DELETE FROM recording_holds WHERE recording_id = %s AND organisation_id = %s",
                                   (recording_id, organisation_id))

    async def purge(self, recording_id: int, delete_file: Callable[[], Awaitable[None]]) -> bool:
        """Deletes a stored recording's file (``delete_file``) and marks it purged, under the row's lock, so
        a legal hold placed meanwhile waits, or wins: False (and nothing done) if an owner holds it or it
        is no longer stored."""
        async with self.db.pool.connection() as conn, conn.transaction():
            cursor = await conn.execute(
                "SELECT EXISTS (SELECT 1 FROM recording_holds h WHERE h.recording_id = r.id) FROM recordings r"
                " WHERE r.id = %s AND r.state = 'stored' FOR UPDATE", (recording_id,))
            row = await cursor.fetchone()
            if row is None or row[0]:
                return False
            await delete_file()
            await conn.execute("UPDATE recordings SET state = 'purged', purged_at = now() WHERE id = %s",
                               (recording_id,))
        return True
