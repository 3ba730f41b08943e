"""An organisation's retention period, its cost and monthly statement, the bulk download switch, and
the purge that deletes recordings past their period (never one under legal hold)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import anyio
from psycopg.rows import dict_row

from asterisk_rec.accounts.audit import AuditLog
from asterisk_rec.accounts.store import Account
from asterisk_rec.adapters.db import Database
from asterisk_rec.archive.paths import inside_archive
from asterisk_rec.archive.records import RecordingStore
from asterisk_rec.config import RetentionSettings
from asterisk_rec.directory.models import RecordingMode
from asterisk_rec.directory.store import DirectoryStore
from asterisk_rec.errors import AsteriskRecError, InvalidInput, NotFound
from asterisk_rec.retention import policy

log = logging.getLogger(__name__)


class ConfirmationNeeded(AsteriskRecError):
    error_id = "confirmation_needed"
    status = 409

    def __init__(self, message: str, going: int) -> None:
        super().__init__(message, {"recordings_deleted": going})
        self.going = going


@dataclass(frozen=True)
class Retention:
    organisation_id: int
    organisation: str
    time_zone: str
    days: int
    bulk_download: bool
    recorded_users: int
    offered: dict[int, float]
    currency: str

    @property
    def price_per_user(self) -> float:
        return self.offered.get(self.days, 0.0)

    @property
    def monthly_cost(self) -> float:
        return round(self.price_per_user * self.recorded_users, 2)

    @property
    def bulk_download_refusal(self) -> str | None:
        return policy.bulk_download_refusal(self.days, self.bulk_download)


@dataclass(frozen=True)
class StatementLine:
    extension: str
    name: str


@dataclass(frozen=True)
class Statement:
    month: date
    lines: list[StatementLine]
    price_per_user: float
    currency: str
    days: int

    @property
    def total(self) -> float:
        return round(self.price_per_user * len(self.lines), 2)


@dataclass(frozen=True)
class PurgedRecording:
    id: int
    name: str
    call_id: str
    path: str
    started_at: datetime
    owners: tuple[int, ...]


class RetentionService:
    def __init__(self, db: Database, audit: AuditLog, settings: RetentionSettings) -> None:
        self.db = db
        self.audit = audit
        self.settings = settings
        self.recordings = RecordingStore(db)
        self.directory = DirectoryStore(db)

    async def _row(self, where: str, value: Any) -> dict[str, Any]:
        async with self.db.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(
                "SELECT o.id, o.name, o.time_zone, o.retention_days, o.bulk_download,"
                " (SELECT count(*) FROM users u WHERE u.organisation_id = o.id AND u.recording_mode <> 'off')"
                f" AS recorded_users FROM organisations o WHERE {where}", (value,))
            row = await cur.fetchone()
        if row is None:
            raise NotFound(f"no organisation {value!r}")
        return row

    async def retention(self, organisation: str) -> Retention:
        row = await self._row("o.name = %s", organisation)
        return Retention(row["id"], row["name"], row["time_zone"], row["retention_days"], row["bulk_download"],
                         row["recorded_users"], self.settings.offered, self.settings.currency)

    async def going_at(self, organisation_id: int, days: int) -> int:
        """How many of the organisation's recordings the next purge would delete at this period (the
        purge's own reckoning: a recording another owner keeps longer stays)."""
        return len(await self._due(datetime.now(UTC), organisation_id, {organisation_id: days}))

    async def set_period(self, actor: Account | None, organisation: str, days: int, confirmed: bool,
                         remote_address: str = "") -> Retention:
        """A shorter period needs ``confirmed`` once the count of recordings it deletes is known; below the
        bulk download's minimum, bulk download is switched off."""
        current = await self.retention(organisation)
        policy.period(days, self.settings.offered)
        if days < current.days and not confirmed:
            going = await self.going_at(current.organisation_id, days)
            raise ConfirmationNeeded(
                f"shortening the retention period from {current.days} to {days} days deletes {going} recordings"
                " at the next purge; confirm to go ahead", going)
        bulk = current.bulk_download and days >= policy.BULK_DOWNLOAD_MIN_DAYS
        await self.directory.set_retention(current.organisation_id, days, bulk)
        await self.audit.write(actor, current.organisation_id, "retention_set", organisation,
                               {"from": current.days, "to": days, "bulk_download": bulk}, remote_address,
                               actor=None if actor else "cli")
        return await self.retention(organisation)

    async def set_bulk_download(self, actor: Account | None, organisation: str, on: bool,
                                remote_address: str = "") -> Retention:
        current = await self.retention(organisation)
        refusal = policy.bulk_download_refusal(current.days, switched_on=True)
        if on and refusal:
            raise InvalidInput(refusal)
        await self.directory.set_retention(current.organisation_id, None, on)
        await self.audit.write(actor, current.organisation_id, "bulk_download_set", organisation, {"on": on},
                               remote_address, actor=None if actor else "cli")
        return await self.retention(organisation)

    async def statement(self, organisation: str, month: date) -> Statement:
        """The users recorded on any day of the month (the organisation's time zone), and the total."""
        current = await self.retention(organisation)
        start, end = policy.month_bounds(month, ZoneInfo(current.time_zone))
        async with self.db.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(
                "SELECT u.extension, u.name, c.changed_at, c.mode FROM users u"
                " JOIN recording_mode_changes c ON c.user_id = u.id"
                " WHERE u.organisation_id = %s AND c.changed_at < %s ORDER BY u.extension, c.changed_at",
                (current.organisation_id, end))
            rows = await cur.fetchall()
        changes: dict[tuple[str, str], list[policy.ModeChange]] = {}
        for row in rows:
            changes.setdefault((row["extension"], row["name"]), []).append(
                policy.ModeChange(row["changed_at"], RecordingMode(row["mode"])))
        lines = [StatementLine(extension, name) for (extension, name), history in changes.items()
                 if policy.recorded_in(history, start, end)]
        return Statement(month.replace(day=1), lines, current.price_per_user, current.currency, current.days)

    async def purge(self, archive_root: Path, dry_run: bool = False, now: datetime | None = None,
                    organisation: str | None = None) -> list[PurgedRecording]:
        """Deletes (or with ``dry_run`` lists) every recording past the longest period of its owners and
        not under legal hold; its row stays (state purged) and its call row says so; each deletion goes to
        the audit log of every owner."""
        now = now or datetime.now(UTC)
        only = (await self.retention(organisation)).organisation_id if organisation else None
        due = await self._due(now, only)
        if dry_run:
            return due
        for recording in due:
            await self._delete(archive_root, recording)
        if due:
            log.info("purge: %d recordings past their retention period deleted", len(due))
        return due

    async def _due(self, now: datetime, only: int | None, periods: dict[int, int] | None = None
                   ) -> list[PurgedRecording]:
        """The stored recordings past the longest period of their owners (``periods`` overriding some
        owners' days), not under legal hold; of the organisation ``only``, if given."""
        shortest = min([*self.settings.offered, *(periods or {}).values()])
        async with self.db.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(
                "SELECT r.id, r.name, r.call_id, r.path, r.started_at,"
                " EXISTS (SELECT 1 FROM recording_holds h WHERE h.recording_id = r.id) AS held,"
                " array_agg(o.id) AS owners, array_agg(o.retention_days) AS days"
                " FROM recordings r JOIN organisations o ON o.id = r.organisation_id"
                " OR o.id IN (SELECT organisation_id FROM recording_owners WHERE recording_id = r.id)"
                " WHERE r.state = 'stored' AND r.started_at < %s"
                " GROUP BY r.id ORDER BY r.started_at", (policy.purge_before(now, shortest),))
            rows = await cur.fetchall()
        due = []
        for r in rows:
            owners_days = [(periods or {}).get(owner, days) for owner, days in zip(r["owners"], r["days"], strict=True)]
            if policy.due_for_deletion(r["started_at"], owners_days, now, legal_hold=r["held"]) and (
                    only is None or only in r["owners"]):
                due.append(PurgedRecording(r["id"], r["name"], r["call_id"], r["path"] or "", r["started_at"],
                                           tuple(r["owners"])))
        return due

    async def _delete(self, archive_root: Path, recording: PurgedRecording) -> None:
        async def delete_file() -> None:
            target = inside_archive(archive_root, recording.path)
            if target is not None:
                await anyio.Path(target).unlink(missing_ok=True)

        if not await self.recordings.purge(recording.id, delete_file):
            return  # purged meanwhile, or an owner put it under legal hold
        for owner in recording.owners:
            await self.audit.write(None, owner, "purged", f"recording {recording.name}",
                                   {"call_id": recording.call_id, "path": recording.path,
                                    "started_at": recording.started_at.isoformat()}, actor="purge")
