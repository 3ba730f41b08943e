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
from asterisk_rec.directory.store import DirectoryStore


@dataclass
class Recorded:
    call: int
    name: str
    path: Path
    format: str
    content: bytes | None  # None: the file is missing from the archive


async def add_recorded_call(db: Database, archive: Path, org_id: int, users: dict[str, int], started: datetime,
                            fmt: str, size: int | None, held: bool = False, also_owner: int | None = None
                            ) -> Recorded:
    """A recorded call as the service leaves one: call row, the organisation's index row, the archived
    file and its recording row (the file left out when ``size`` is None); under the organisation's legal
    hold if ``held``; ``also_owner``: a second organisation whose call it is too (a call between two)."""
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
        for owner in (org_id, *([also_owner] if also_owner else [])):
            await conn.execute(
                "INSERT INTO call_organisations (call_id, organisation_id, started_at, direction, caller, callee,"
                " caller_user_id, callee_user_id, recorded) VALUES (%s, %s, %s, 'internal', '201', '202', %s, %s,"
                " true)", (row[0], owner, started, users["201"], users["202"]))
        name = f"asterisk-rec/{org_id}/{started:%Y-%m-%d}/{call_id}"
        cursor = await conn.execute(
            "INSERT INTO recordings (call_id, name, organisation_id, state, started_at, format, path, sha256,"
            " size_bytes, duration_seconds, stored_at) VALUES (%s, %s, %s, 'stored', %s, %s, %s, %s, %s,"
            " 60, %s) RETURNING id",
            (call_id, name, org_id, started, fmt, relative, hashlib.sha256(content or b"").hexdigest(),
             len(content or b""), started))
        recording = await cursor.fetchone()
        assert recording is not None
        for owner in (org_id, *([also_owner] if also_owner else [])):
            await conn.execute("INSERT INTO recording_owners (recording_id, organisation_id) VALUES (%s, %s)",
                               (recording[0], owner))
        if held:
            await conn.execute("INSERT INTO recording_holds (recording_id, organisation_id) VALUES (%s, %s)",
                               (recording[0], org_id))
    return Recorded(int(row[0]), name, archive / relative, fmt, content)


async def bulk_download_organisation(db: Database, name: str) -> tuple[int, dict[str, int]]:
    """An organisation keeping recordings 365 days with bulk download on, and users Ann (201) and Ben (202);
    returns its id and the users' ids by extension."""
    directory = DirectoryStore(db)
    org = await directory.add_organisation(name, language="en")
    for extension, user in (("201", "Ann"), ("202", "Ben")):
        await directory.add_user(name, extension, user, language="en")
    async with db.pool.connection() as conn:
        await conn.execute("UPDATE organisations SET retention_days = 365, bulk_download = true WHERE id = %s",
                           (org.id,))
    return org.id, {u.extension: u.id for u in await directory.users(name)}
