"""The audit log: who listened to, downloaded, held or changed what, when and from where. Admins read
their organisation's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from asterisk_rec.accounts.store import Account
from asterisk_rec.adapters.db import Database


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    details: dict[str, Any]
    remote_address: str


class AuditLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def write(self, account: Account | None, organisation_id: int, action: str, subject: str = "",
                    details: dict[str, Any] | None = None, remote_address: str = "",
                    actor: str | None = None) -> None:
        """``actor``: who, when not an account (the CLI, the purge job)."""
        async with self.db.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO audit_log (organisation_id, account_id, actor, action, subject, details, remote_address)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (organisation_id, account.id if account and account.id > 0 else None,
                 actor or (account.email if account else "system"),
                 action, subject, Jsonb(details or {}), remote_address))

    async def entries(self, organisation_id: int, limit: int = 50, offset: int = 0) -> list[AuditEntry]:
        async with self.db.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(
                "SELECT id, at, actor, action, subject, details, remote_address FROM audit_log"
                " WHERE organisation_id = %s ORDER BY at DESC, id DESC LIMIT %s OFFSET %s",
                (organisation_id, limit, offset))
            return [AuditEntry(**row) for row in await cur.fetchall()]
