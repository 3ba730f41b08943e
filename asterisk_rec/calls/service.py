"""The calls' read side, for an account, whichever way it is asked (portal, API): find calls, hand out a
recording (audited), put it under legal hold. An admin sees their organisation; a user their own calls;
anything else is "not found", never "forbidden", so ids of other organisations' calls give nothing
away."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import anyio
from psycopg.rows import dict_row

from asterisk_rec.accounts.access import only_admins
from asterisk_rec.accounts.audit import AuditLog
from asterisk_rec.accounts.store import Account
from asterisk_rec.adapters.db import Database
from asterisk_rec.archive.paths import inside_archive
from asterisk_rec.archive.records import RecordingStore
from asterisk_rec.calls.listens import ListenWindow
from asterisk_rec.calls.query import CALL_COLUMNS, CALL_JOINS, CallQuery, download_name, page_sql
from asterisk_rec.directory.store import DirectoryStore
from asterisk_rec.errors import NotFound

MEDIA_TYPES = {"mp3": "audio/mpeg", "opus": "audio/ogg", "flac": "audio/flac", "wav": "audio/wav"}


@dataclass(frozen=True)
class CallEntry:
    id: int
    call_id: str | None
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    direction: str | None
    caller: str | None
    callee: str | None
    caller_name: str | None
    callee_name: str | None
    disposition: str | None
    recording_id: int | None
    recording_state: str | None  # stored, or purged (its period over: the file is gone, the row stays)
    purged_at: datetime | None
    format: str | None
    duration_seconds: float | None
    size_bytes: int | None
    legal_hold: bool | None
    path: str | None
    # The call's transfers in order, as JSON objects (at, kind, transferor, transferee, target, outcome,
    # answered_at).
    transfers: list[dict[str, Any]] = field(default_factory=list)

    @property
    def recorded(self) -> bool:
        """Its recording is in the archive (not purged)."""
        return self.recording_state == "stored"

    @property
    def talk_seconds(self) -> float | None:
        if self.answered_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.answered_at).total_seconds()


@dataclass(frozen=True)
class CallPage:
    calls: list[CallEntry]
    page: int
    page_size: int
    has_next: bool


@dataclass(frozen=True)
class RecordingFile:
    path: Path
    media_type: str
    download_name: str
    call: CallEntry


class CallsService:
    def __init__(self, db: Database, audit: AuditLog, archive_root: Path) -> None:
        self.db = db
        self.audit = audit
        self.archive_root = archive_root
        self.recordings = RecordingStore(db)
        self.listens = ListenWindow()

    @staticmethod
    def _scope(account: Account) -> int | None:
        """A plain user sees the calls of their directory user only (none, if it was removed)."""
        return None if account.is_admin else (account.user_id or -1)

    async def page(self, account: Account, query: CallQuery) -> CallPage:
        sql, params = page_sql(query, account.organisation_id, ZoneInfo(account.time_zone), self._scope(account))
        async with self.db.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(sql.encode(), params)
            rows = await cur.fetchall()
        calls = [CallEntry(**row) for row in rows[:query.page_size]]
        return CallPage(calls, query.page, query.page_size, len(rows) > query.page_size)

    async def call(self, account: Account, call_id: int) -> CallEntry:
        where = "co.organisation_id = %(org)s AND c.id = %(id)s"
        params: dict[str, Any] = {"org": account.organisation_id, "id": call_id}
        if (scope := self._scope(account)) is not None:
            where += " AND (c.caller_user_id = %(scope)s OR c.callee_user_id = %(scope)s)"
            params["scope"] = scope
        async with self.db.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(f"SELECT {CALL_COLUMNS} FROM call_organisations co {CALL_JOINS} WHERE {where}".encode(),
                              params)
            row = await cur.fetchone()
        if row is None:
            raise NotFound(f"no call {call_id}")
        return CallEntry(**row)

    async def user_id(self, account: Account, extension: str) -> int:
        """The organisation's user with this extension (a filter of Reports > Calls)."""
        user = await DirectoryStore(self.db).user_by_extension(account.organisation_id, extension)
        if user is None:
            raise NotFound(f"no user with extension {extension}")
        return user.id

    async def recording(self, account: Account, call_id: int, *, download: bool, remote_address: str,
                        served: bool = True) -> RecordingFile:
        """The call's archived file, written to the audit log as downloaded, or as listened to when this
        starts a listen (``ListenWindow``); ``served``: whether any of its bytes go out (not for HEAD)."""
        call = await self.call(account, call_id)
        if not call.recorded or call.path is None or call.format is None:
            raise NotFound(f"call {call_id} has no recording" + (" any more (its retention period is over)"
                                                                 if call.purged_at else ""))
        path = inside_archive(self.archive_root, call.path)
        if path is None or not await anyio.Path(path).is_file():
            raise NotFound(f"the recording of call {call_id} is missing from the archive")
        starts = served and not download and self.listens.starts_a_listen(account.id, call.recording_id or 0,
                                                                          time.monotonic())
        if (served and download) or starts:
            await self.audit.write(account, account.organisation_id, "download" if download else "listen",
                                   f"call {call_id}", {"recording_id": call.recording_id}, remote_address)
        return RecordingFile(path, MEDIA_TYPES.get(call.format, "application/octet-stream"),
                             download_name(call.started_at, call.caller, call.callee, call.format,
                                           ZoneInfo(account.time_zone)), call)

    async def set_legal_hold(self, account: Account, call_id: int, hold: bool, remote_address: str) -> CallEntry:
        """The organisation's own legal hold on the call's recording: while any owner holds it, it is never
        purged. Putting and lifting it are audited for the organisation that did it."""
        only_admins(account)
        call = await self.call(account, call_id)
        if call.recording_id is None:
            raise NotFound(f"call {call_id} has no recording")
        await self.recordings.set_hold(call.recording_id, account.organisation_id, hold)
        await self.audit.write(account, account.organisation_id, "legal_hold" if hold else "legal_hold_released",
                               f"call {call_id}", {"recording_id": call.recording_id}, remote_address)
        return await self.call(account, call_id)
