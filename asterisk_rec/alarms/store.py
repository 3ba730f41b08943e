"""The alarms table (every incident, raised and cleared, for the portal and across restarts) and who is
told: the organisation's admins, or for the installation's alarms every organisation's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.rows import dict_row

from asterisk_rec.adapters.db import Database
from asterisk_rec.alarms.model import AlarmKey, AlarmKind, Incident


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str
    language: str
    organisation: str


@dataclass(frozen=True)
class AlarmRow:
    kind: AlarmKind
    organisation_id: int | None
    raised_at: datetime
    cleared_at: datetime | None
    detail: str


class AlarmStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def active(self) -> dict[AlarmKey, Incident]:
        """The incidents not cleared (a restarted service carries them on, and tells nothing twice)."""
        async with self.db.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute("SELECT kind, organisation_id, raised_at, detail, notified_at, reminders FROM alarms"
                              " WHERE cleared_at IS NULL")
            rows: list[dict[str, Any]] = await cur.fetchall()
        found = {}
        for row in rows:
            key = AlarmKey(AlarmKind(row["kind"]), row["organisation_id"])
            found[key] = Incident(key, row["raised_at"], row["detail"], row["notified_at"], row["reminders"])
        return found

    async def raised(self, incident: Incident) -> None:
        async with self.db.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO alarms (kind, organisation_id, raised_at, detail, notified_at)"
                " VALUES (%s, %s, %s, %s, %s)",
                (incident.key.kind.value, incident.key.organisation_id, incident.raised_at, incident.detail,
                 incident.notified_at))

    async def reminded(self, incident: Incident) -> None:
        async with self.db.pool.connection() as conn:
            await conn.execute(
                "UPDATE alarms SET detail = %s, notified_at = %s, reminders = %s WHERE kind = %s"
                " AND organisation_id IS NOT DISTINCT FROM %s AND cleared_at IS NULL",
                (incident.detail, incident.notified_at, incident.reminders, incident.key.kind.value,
                 incident.key.organisation_id))

    async def cleared(self, incident: Incident, at: datetime) -> None:
        async with self.db.pool.connection() as conn:
            await conn.execute(
                "UPDATE alarms SET cleared_at = %s WHERE kind = %s AND organisation_id IS NOT DISTINCT FROM %s"
                " AND cleared_at IS NULL", (at, incident.key.kind.value, incident.key.organisation_id))

    async def recipients(self, organisation_id: int | None) -> list[Recipient]:
        """The admins to tell (enabled accounts; every organisation's for the installation's alarms)."""
        async with self.db.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(
                "SELECT a.email, a.name, a.language, o.name AS organisation FROM accounts a"
                " JOIN organisations o ON o.id = a.organisation_id"
                " WHERE a.role = 'admin' AND a.disabled_at IS NULL"
                " AND (%(org)s::bigint IS NULL OR a.organisation_id = %(org)s) ORDER BY a.id",
                {"org": organisation_id})
            return [Recipient(**row) for row in await cur.fetchall()]

    async def shown_to(self, organisation_id: int, limit: int = 50) -> list[AlarmRow]:
        """The organisation's alarms and the installation's, active first, then the newest."""
        async with self.db.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(
                "SELECT kind, organisation_id, raised_at, cleared_at, detail FROM alarms"
                " WHERE organisation_id IS NULL OR organisation_id = %s"
                " ORDER BY cleared_at IS NULL DESC, raised_at DESC LIMIT %s", (organisation_id, limit))
            return [AlarmRow(kind=AlarmKind(r["kind"]), organisation_id=r["organisation_id"],
                             raised_at=r["raised_at"], cleared_at=r["cleared_at"], detail=r["detail"])
                    for r in await cur.fetchall()]
