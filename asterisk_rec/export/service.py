"""Bulk download: an admin asks for a month (optionally some users); a background job writes the ZIP
files, then e-mails the requester a signed link per file; the portal shows progress and links; the
files go when the links expire."""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from asterisk_rec.accounts.access import only_admins
from asterisk_rec.accounts.audit import AuditLog
from asterisk_rec.accounts.store import Account
from asterisk_rec.adapters.db import Database
from asterisk_rec.archive.paths import inside_archive
from asterisk_rec.calls.query import download_name
from asterisk_rec.config import ExportSettings
from asterisk_rec.errors import AsteriskRecError, Conflict, ExportRefused, InvalidInput, NotFound
from asterisk_rec.export import links
from asterisk_rec.export.zipper import ExportEntry, build
from asterisk_rec.jobs.supervisor import describe
from asterisk_rec.mail.mailer import Mailer
from asterisk_rec.retention import policy
from asterisk_rec.retention.service import RetentionService

log = logging.getLogger(__name__)
_SAFE = re.compile(r"[^A-Za-z0-9-]+")
_PART = re.compile(r"[A-Za-z0-9-]+\.zip")
MAIL_RETRY_SECONDS = 60
# An organisation's exports that count against export.max_per_organisation: waiting, building, or kept.
_KEPT_STATES = ("queued", "running", "done")


def _size(path: Path | None) -> int:
    try:
        return path.stat().st_size if path is not None else 0
    except OSError:
        return 0  # missing: the manifest will say so


@dataclass(frozen=True)
class Export:
    id: int
    organisation_id: int
    account_id: int
    month: date
    extensions: list[str]
    state: str
    files_total: int
    files_done: int
    parts: list[dict[str, Any]]
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    expires_at: datetime | None
    mailed_at: datetime | None

    @property
    def missing(self) -> int:
        """Recordings listed but not in the ZIPs: their files were missing from the archive."""
        return self.files_total - sum(int(p.get("files", 0)) for p in self.parts)


class ExportService:
    def __init__(self, db: Database, audit: AuditLog, retention: RetentionService, mailer: Mailer,
                 settings: ExportSettings, archive_root: Path, secret: str) -> None:
        self.db = db
        self.audit = audit
        self.retention = retention
        self.mailer = mailer
        self.settings = settings
        self.archive_root = archive_root
        self.root = Path(settings.root)
        self.secret = secret
        self._mail_after: dict[int, float] = {}

    # Asking and looking

    async def request(self, account: Account, month: date, extensions: list[str], remote_address: str) -> Export:
        only_admins(account)
        current = await self.retention.retention(account.organisation_name)
        refusal = current.bulk_download_refusal
        if refusal:
            raise InvalidInput(refusal)
        if month.replace(day=1) > datetime.now(ZoneInfo(account.time_zone)).date():
            raise InvalidInput(f"month {month:%Y-%m} has not begun")
        async with self.db.pool.connection() as conn, conn.transaction():
            # One request at a time per organisation, so two at once cannot both pass the bound below.
            await conn.execute("SELECT 1 FROM organisations WHERE id = %s FOR UPDATE", (account.organisation_id,))
            cursor = await conn.execute("SELECT extension FROM users WHERE organisation_id = %s"
                                        " AND extension = ANY(%s)", (account.organisation_id, extensions))
            unknown = sorted(set(extensions) - {row[0] for row in await cursor.fetchall()})
            if unknown:
                raise NotFound(f"no user with extension {', '.join(unknown)}")
            cursor = await conn.execute("SELECT count(*) FROM exports WHERE organisation_id = %s AND state = ANY(%s)",
                                        (account.organisation_id, list(_KEPT_STATES)))
            kept = await cursor.fetchone()
            if kept is not None and kept[0] >= self.settings.max_per_organisation:
                raise Conflict(f"your organisation has {kept[0]} bulk downloads waiting or kept, the most it may"
                               f" have (export.max_per_organisation); ask again when one has expired")
            cursor = await conn.execute(
                "INSERT INTO exports (organisation_id, account_id, month, extensions) VALUES (%s, %s, %s, %s)"
                " RETURNING id", (account.organisation_id, account.id, month.replace(day=1), sorted(set(extensions))))
            row = await cursor.fetchone()
        assert row is not None
        await self.audit.write(account, account.organisation_id, "export_requested", f"export {row[0]}",
                               {"month": f"{month:%Y-%m}", "extensions": extensions}, remote_address)
        return await self.export(account, int(row[0]))

    async def _exports(self, where: str, params: tuple[Any, ...], limit: int = 100) -> list[Export]:
        async with self.db.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(f"SELECT * FROM exports WHERE {where} ORDER BY id DESC LIMIT {int(limit)}", params)
            return [Export(**row) for row in await cur.fetchall()]

    async def exports(self, account: Account) -> list[Export]:
        only_admins(account)
        return await self._exports("organisation_id = %s", (account.organisation_id,))

    async def export(self, account: Account, export_id: int) -> Export:
        only_admins(account)
        found = await self._exports("id = %s AND organisation_id = %s", (export_id, account.organisation_id))
        if not found:
            raise NotFound(f"no export {export_id}")
        return found[0]

    def link(self, export: Export, part: str) -> str:
        assert export.expires_at is not None
        return links.link(self.settings.portal_url, self.secret, export.id, part, export.account_id,
                          int(export.expires_at.timestamp()))

    async def part_file(self, account: Account, export_id: int, part: str, expires: int, signature: str,
                        remote_address: str) -> Path:
        """The ZIP a link names, for the account it was signed for, while it is valid."""
        only_admins(account)
        links.check(self.secret, export_id, part, account.id, expires, signature, time.time())
        export = await self.export(account, export_id)
        if export.state != "done" or not _PART.fullmatch(part) or part not in {p["name"] for p in export.parts}:
            raise NotFound(f"export {export_id} has no file {part!r}")
        path = self.root / str(export_id) / part
        if not await anyio.Path(path).is_file():
            raise NotFound(f"export {export_id}'s file {part} is gone")
        await self.audit.write(account, account.organisation_id, "export_download", f"export {export_id}",
                               {"part": part}, remote_address)
        return path

    # The background job

    async def run(self) -> None:
        """Builds queued exports one at a time, mails their links, and removes expired ones. Run under
        supervision (``jobs.supervisor``): what it cannot handle ends it, and it starts over."""
        async with self.db.pool.connection() as conn:
            # A build cut short (a restart, or its failure not written down) starts again.
            await conn.execute("UPDATE exports SET state = 'queued', files_done = 0 WHERE state = 'running'")
        while True:
            await self.work_once()
            await anyio.sleep(self.settings.poll_seconds)

    async def work_once(self) -> None:
        while (export := await self._claim()) is not None:
            await self._build(export)
        for export in await self._exports("state = 'done' AND mailed_at IS NULL", ()):
            if time.monotonic() >= self._mail_after.get(export.id, 0.0):
                await self._mail(export)
        for export in await self._exports("state = 'done' AND expires_at < now()", ()):
            await anyio.to_thread.run_sync(partial(shutil.rmtree, self.root / str(export.id), ignore_errors=True))
            async with self.db.pool.connection() as conn:
                await conn.execute("UPDATE exports SET state = 'expired' WHERE id = %s", (export.id,))
            log.info("bulk download %d expired: its files are removed", export.id)

    async def _claim(self) -> Export | None:
        async with self.db.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute("UPDATE exports SET state = 'running' WHERE id = (SELECT id FROM exports"
                              " WHERE state = 'queued' ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING *")
            row = await cur.fetchone()
        return Export(**row) if row else None

    async def _entries(self, export: Export, zone: ZoneInfo) -> list[ExportEntry]:
        start, end = policy.month_bounds(export.month, zone)
        users = ""
        params: list[Any] = [export.organisation_id, start, end]
        if export.extensions:
            users = (" AND EXISTS (SELECT 1 FROM users u WHERE u.organisation_id = co.organisation_id"
                     " AND u.extension = ANY(%s) AND u.id IN (co.caller_user_id, co.callee_user_id))")
            params.append(export.extensions)
        async with self.db.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(
                "SELECT c.id, c.started_at, c.answered_at, c.ended_at, c.direction, c.caller, c.callee, r.path,"
                " r.format FROM call_organisations co JOIN calls c ON c.id = co.call_id"
                " JOIN recordings r ON r.call_id = c.call_id AND r.state = 'stored'"
                f" WHERE co.organisation_id = %s AND co.started_at >= %s AND co.started_at < %s{users}"
                " ORDER BY co.started_at, c.id", params)
            rows = await cur.fetchall()
        entries = []
        for row in rows:
            stem, extension = download_name(row["started_at"], row["caller"], row["callee"], row["format"] or "bin",
                                            zone).rsplit(".", 1)
            talk = ((row["ended_at"] - row["answered_at"]).total_seconds()
                    if row["answered_at"] and row["ended_at"] else None)
            entries.append(ExportEntry(
                call=row["id"], started_at=row["started_at"].astimezone(zone), direction=row["direction"] or "",
                caller=row["caller"] or "", callee=row["callee"] or "", talk_seconds=talk,
                source=inside_archive(self.archive_root, row["path"] or ""),
                # The call's id keeps names apart when two calls share a second and parties.
                name=f"{stem}_{row['id']}.{extension}",
                format=row["format"] or ""))
        return entries

    async def _build(self, export: Export) -> None:
        """Builds one export. Whatever goes wrong (the disk full, a file going, PostgreSQL away; raised
        here or as an exception group from the progress reporter's task group) marks it failed with the
        reason and removes its partial files; the worker goes on with the next."""
        directory = self.root / str(export.id)
        try:
            name, zone = await self._organisation(export)
            prefix = f"{_SAFE.sub('-', name).strip('-') or 'export'}-{export.month:%Y-%m}-{export.id}"
            entries = await self._entries(export, zone)
            await anyio.Path(self.root).mkdir(parents=True, exist_ok=True)
            refusal = await anyio.to_thread.run_sync(self._space_refusal, entries)
            if refusal:
                raise ExportRefused(refusal)
            async with self.db.pool.connection() as conn:
                await conn.execute("UPDATE exports SET files_total = %s WHERE id = %s", (len(entries), export.id))
            await anyio.Path(directory).mkdir(parents=True, exist_ok=True)
            done = [0]
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(self._report_progress, export.id, done)
                parts = await anyio.to_thread.run_sync(
                    lambda: build(entries, directory, prefix, self.settings.split_bytes,
                                  lambda n: done.__setitem__(0, n)))
                tasks.cancel_scope.cancel()
            expires = datetime.now(UTC) + timedelta(days=self.settings.link_days)
            async with self.db.pool.connection() as conn:
                await conn.execute(
                    "UPDATE exports SET state = 'done', files_done = files_total, finished_at = now(),"
                    " expires_at = %s, parts = %s WHERE id = %s",
                    (expires, Jsonb([{"name": p.name, "size": p.size, "sha256": p.sha256, "files": p.files}
                                     for p in parts]), export.id))
        except Exception as err:  # an ExceptionGroup from the task group is one too
            await self._failed(export, directory, describe(err))
            return
        log.info("bulk download %d built: %d recordings in %d ZIP files", export.id, len(entries), len(parts))

    def _space_refusal(self, entries: list[ExportEntry]) -> str | None:
        """Why the build may not start: it would take the export disk below ``export.min_free_mb``, which
        every organisation's archive may share."""
        needed = sum(_size(entry.source) for entry in entries)
        usage = shutil.disk_usage(self.root)
        keep = self.settings.min_free_mb * 1024 * 1024
        if usage.free - needed < keep:
            return (f"not enough room: the export needs about {needed / 1e6:.0f} MB and the disk of"
                    f" {self.root} has {usage.free / 1e6:.0f} MB free, of which {keep / 1e6:.0f} MB must stay"
                    " free (export.min_free_mb)")
        return None

    async def _failed(self, export: Export, directory: Path, reason: str) -> None:
        """The build's partial files go, and the row says why (retried while PostgreSQL is away: until
        then the export stays 'running' and is queued again when the worker starts over)."""
        log.error("bulk download %d failed: %s", export.id, reason)
        await anyio.to_thread.run_sync(partial(shutil.rmtree, directory, ignore_errors=True))
        async with self.db.pool.connection() as conn:
            await conn.execute("UPDATE exports SET state = 'failed', error = %s, files_done = 0, finished_at = now()"
                               " WHERE id = %s", (reason, export.id))

    async def _report_progress(self, export_id: int, done: list[int]) -> None:
        reported = -1
        while True:
            await anyio.sleep(1)
            if done[0] != reported:
                # Progress is for the portal only: a moment without PostgreSQL must not stop the build.
                with contextlib.suppress(psycopg.Error):
                    async with self.db.pool.connection() as conn:
                        await conn.execute("UPDATE exports SET files_done = %s WHERE id = %s", (done[0], export_id))
                    reported = done[0]

    async def _organisation(self, export: Export) -> tuple[str, ZoneInfo]:
        async with self.db.pool.connection() as conn:
            cursor = await conn.execute("SELECT name, time_zone FROM organisations WHERE id = %s",
                                        (export.organisation_id,))
            row = await cursor.fetchone()
        if row is None:
            raise NotFound(f"export {export.id}: its organisation is gone")
        return str(row[0]), ZoneInfo(row[1])

    async def _mail(self, export: Export) -> None:
        async with self.db.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute("SELECT a.email, a.name, a.language, o.name AS organisation, o.time_zone"
                              " FROM accounts a JOIN organisations o ON o.id = a.organisation_id WHERE a.id = %s",
                              (export.account_id,))
            who = await cur.fetchone()
        if who is None or export.expires_at is None:
            return
        items = [{"name": p["name"], "size_mb": f"{p['size'] / 1e6:.1f}", "url": self.link(export, p["name"])}
                 for p in export.parts]
        try:
            await self.mailer.send("export_ready", who["language"], who["email"], {
                "name": who["name"], "organisation": who["organisation"], "month": f"{export.month:%Y-%m}",
                "files": export.files_total, "missing": export.missing, "links": items,
                "expires": f"{export.expires_at.astimezone(ZoneInfo(who['time_zone'])):%Y-%m-%d %H:%M}"})
        except AsteriskRecError as err:
            log.error("bulk download %d: %s; trying again in %d s", export.id, err, MAIL_RETRY_SECONDS)
            self._mail_after[export.id] = time.monotonic() + MAIL_RETRY_SECONDS
            return
        async with self.db.pool.connection() as conn:
            await conn.execute("UPDATE exports SET mailed_at = now() WHERE id = %s", (export.id,))
