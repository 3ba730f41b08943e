"""Archived recordings made by the tests themselves, as the service leaves them (call row, the
organisation's index row, the file in the archive, its recording row and owner), for the tests of what
is done with stored recordings: retention, purge, bulk download."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from asterisk_rec.adapters.db import Database


@dataclass
class Recorded:
    call: int
    name: str
    path: Path
    format: str
    content: bytes | None  # None: the file is missing from the archive


async def add_recorded_call(db: Database, archive: Path, org_id: int, users: dict[str, int], started: datetime,
                            fmt: str, size: int | None, held: bool = False) -> Recorded:
    """A recorded call as the service leaves one: call row, the organisation's index row, the archived
    file and its recording row (the file left out when ``size`` is None)."""
    call_id = secrets.token_hex(10)
    relative = f"{org_id}/{started:%Y/%m/%d}/{call_id}.{fmt}"
    content = secrets.token_bytes(size) if size is not None else None
    if content is not None:
        (archive / relative).parent.mkdir(parents=True, exist_ok=True)
        (archive / relative).write_bytes(content)
    async with db.pool.connection() as conn:
        cursor = await conn.execute(
            "INSERT INTO calls (linked_id, call_id, direction, caller, callee, caller_user_id, callee_user_id,"
            " started_at, answered_at, ended_at, disposition, source) VALUES (%s, %s, 'internal', '201', '202',"
            " %s, %s, %s, %s, %s, 'answered', 'cdr') RETURNING id",
            (f"test-{call_id}", call_id, users["201"], users["202"], started, started + timedelta(seconds=3),
             started + timedelta(seconds=63)))
        row = await cursor.fetchone()
        assert row is not None
        await conn.execute(
            "INSERT INTO call_organisations (call_id, organisation_id, started_at, direction, caller, callee,"
            " caller_user_id, callee_user_id, recorded) VALUES (%s, %s, %s, 'internal', '201', '202', %s, %s, true)",
            (row[0], org_id, started, users["201"], users["202"]))
        name = f"asterisk-rec/{org_id}/{started:%Y-%m-%d}/{call_id}"
        cursor = await conn.execute(
            "INSERT INTO recordings (call_id, name, organisation_id, state, started_at, format, path, sha256,"
            " size_bytes, duration_seconds, stored_at, legal_hold) VALUES (%s, %s, %s, 'stored', %s, %s, %s, %s, %s,"
            " 60, %s, %s) RETURNING id",
            (call_id, name, org_id, started, fmt, relative, hashlib.sha256(content or b"").hexdigest(),
             len(content or b""), started, held))
        recording = await cursor.fetchone()
        assert recording is not None
        await conn.execute("INSERT INTO recording_owners (recording_id, organisation_id) VALUES (%s, %s)",
                           (recording[0], org_id))
    return Recorded(int(row[0]), name, archive / relative, fmt, content)
