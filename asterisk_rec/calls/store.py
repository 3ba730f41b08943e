"""Call rows in PostgreSQL. ``calls`` is derived: after every change to a call's app record or CDRs its
row is computed again from both (``summary.merge``), in the same transaction, so it is never half-updated
and a CDR received twice (over AMI and from the CSV file) changes nothing."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from asterisk_rec.adapters.db import Database
from asterisk_rec.calls.records import CdrRecord
from asterisk_rec.calls.summary import AppCall, CallRow, CallTransfer, Direction, merge
from asterisk_rec.channel_names import endpoint_of
from asterisk_rec.policy import DialStatus

Connection = psycopg.AsyncConnection[Any]

_CDR_COLUMNS = ("unique_id", "sequence", "linked_id", "call_id", "source", "destination", "context", "caller_id",
                "channel", "destination_channel", "last_application", "last_data", "started_at", "answered_at",
                "ended_at", "disposition")
_ROW_COLUMNS = tuple(f.name for f in dataclasses.fields(CallRow))


class CallStore:
    def __init__(self, db: Database, trunks: frozenset[str]) -> None:
        self.db = db
        self.trunks = trunks

    async def app_call_started(self, call: AppCall) -> None:
        async with self.db.pool.connection() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO app_calls (call_id, linked_id, direction, caller, callee, caller_user_id,"
                " callee_user_id, organisation_ids, started_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
                # Replayed from the journal after a crash: the second time changes nothing.
                " ON CONFLICT (call_id) DO NOTHING",
                (call.call_id, call.linked_id, call.direction.value, call.caller, call.callee, call.caller_user_id,
                 call.callee_user_id, list(call.organisation_ids), call.started_at))
            await self._recompute(conn, call.linked_id)

    async def app_call_ended(self, call_id: str, *, answered_at: datetime | None, ended_at: datetime,
                             outcome: DialStatus | None, notice_finished_at: datetime | None,
                             transfers: Sequence[CallTransfer] = ()) -> None:
        async with self.db.pool.connection() as conn, conn.transaction():
            for seq, transfer in enumerate(transfers, start=1):
                await conn.execute(
                    "INSERT INTO call_transfers (call_id, seq, at, kind, transferor, transferee, target, outcome,"
                    " answered_at, consultation_call_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT DO NOTHING",
                    (call_id, seq, transfer.at, transfer.kind, transfer.transferor, transfer.transferee,
                     transfer.target, transfer.outcome, transfer.answered_at, transfer.consultation))
            cursor = await conn.execute(
                "UPDATE app_calls SET answered_at = COALESCE(%s, answered_at), ended_at = %s,"
                " outcome = COALESCE(%s, outcome), notice_finished_at = COALESCE(%s, notice_finished_at)"
                " WHERE call_id = %s RETURNING linked_id",
                (answered_at, ended_at, outcome.value if outcome else None, notice_finished_at, call_id))
            row = await cursor.fetchone()
            if row is not None:
                await self._recompute(conn, row[0])

    async def add_cdrs(self, records: Iterable[CdrRecord], via: str) -> int:
        """Stores the CDRs of parties (not the app's snoops) not stored yet; returns how many were new."""
        new = 0
        linked: set[str] = set()
        async with self.db.pool.connection() as conn, conn.transaction():
            for record in records:
                if not record.of_a_party:
                    continue
                cursor = await conn.execute(
                    f"INSERT INTO cdr_records ({', '.join(_CDR_COLUMNS)}, received_via)"
                    f" VALUES ({', '.join(['%s'] * (len(_CDR_COLUMNS) + 1))}) ON CONFLICT DO NOTHING",
                    (*(getattr(record, c) for c in _CDR_COLUMNS), via))
                if cursor.rowcount:
                    new += 1
                    linked.add(record.linked_id)
            for linked_id in sorted(linked):
                await self._recompute(conn, linked_id)
        return new

    async def _recompute(self, conn: Connection, linked_id: str) -> None:
        # One recompute of a call at a time: the app's end and a CDR arriving together would otherwise each
        # read the other's change uncommitted, and the later commit would drop the earlier one's part.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"call:{linked_id}",))
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute("SELECT * FROM app_calls WHERE linked_id = %s", (linked_id,))
            app_row = await cur.fetchone()
            await cur.execute(f"SELECT {', '.join(_CDR_COLUMNS)} FROM cdr_records WHERE linked_id = %s",
                              (linked_id,))
            cdrs = [CdrRecord(**r) for r in await cur.fetchall()]
        app = _app_call(app_row) if app_row else None
        row = merge(app, cdrs, self.trunks)
        organisations: set[int] = set(app.organisation_ids) if app else set()
        if app is None:
            row, organisations = await self._attribute(conn, row, cdrs)
        cursor = await conn.execute(
            f"INSERT INTO calls ({', '.join(_ROW_COLUMNS)}) VALUES ({', '.join(['%s'] * len(_ROW_COLUMNS))})"
            " ON CONFLICT (linked_id) DO UPDATE SET "
            + ", ".join(f"{c} = EXCLUDED.{c}" for c in _ROW_COLUMNS if c != "linked_id")
            + ", updated_at = now() RETURNING id",
            tuple(getattr(row, c) for c in _ROW_COLUMNS))
        found = await cursor.fetchone()
        assert found is not None
        for organisation_id in sorted(organisations):
            # What Reports > Calls filters on is kept beside the organisation (one index answers a page).
            await conn.execute(
                "INSERT INTO call_organisations (call_id, organisation_id, started_at, direction, caller, callee,"
                " caller_user_id, callee_user_id, recorded) VALUES (%s, %s, %s, %s, %s, %s, %s, %s,"
                " EXISTS (SELECT 1 FROM recordings WHERE call_id = %s AND state = 'stored'))"
                " ON CONFLICT (call_id, organisation_id) DO UPDATE SET started_at = EXCLUDED.started_at,"
                " direction = EXCLUDED.direction, caller = EXCLUDED.caller, callee = EXCLUDED.callee,"
                " caller_user_id = EXCLUDED.caller_user_id, callee_user_id = EXCLUDED.callee_user_id,"
                " recorded = EXCLUDED.recorded",
                (found[0], organisation_id, row.started_at, row.direction, row.caller, row.callee,
                 row.caller_user_id, row.callee_user_id, row.call_id))

    async def _attribute(self, conn: Connection, row: CallRow, cdrs: list[CdrRecord]
                         ) -> tuple[CallRow, set[int]]:
        """A call the app did not handle (its fail mode, or not routed through it): users by the PJSIP
        endpoints of its channels."""
        first = min((r for r in cdrs if r.of_a_party), key=lambda r: (r.started_at, r.sequence))
        endpoints = {side: endpoint_of(name) for side, name in
                     (("caller", first.channel), ("callee", first.destination_channel))}
        cursor = await conn.execute(
            "SELECT d.endpoint, u.id, u.organisation_id, u.extension FROM devices d JOIN users u ON u.id = d.user_id"
            " WHERE d.endpoint = ANY(%s)", ([e for e in endpoints.values() if e],))
        users = {endpoint: (user_id, org_id, extension) for endpoint, user_id, org_id, extension
                 in await cursor.fetchall()}
        caller = users.get(endpoints["caller"] or "")
        callee = users.get(endpoints["callee"] or "")
        row = dataclasses.replace(row, caller_user_id=caller[0] if caller else None,
                                  callee_user_id=callee[0] if callee else None,
                                  caller=caller[2] if caller else row.caller)
        return row, {user[1] for user in (caller, callee) if user}

    async def csv_position(self, path: str) -> tuple[int, int] | None:
        async with self.db.pool.connection() as conn:
            cursor = await conn.execute("SELECT inode, position FROM cdr_csv_positions WHERE path = %s", (path,))
            row = await cursor.fetchone()
        return (row[0], row[1]) if row else None

    async def save_csv_position(self, path: str, inode: int, position: int) -> None:
        async with self.db.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO cdr_csv_positions (path, inode, position) VALUES (%s, %s, %s) ON CONFLICT (path)"
                " DO UPDATE SET inode = EXCLUDED.inode, position = EXCLUDED.position, updated_at = now()",
                (path, inode, position))


def _app_call(row: dict[str, Any]) -> AppCall:
    return AppCall(
        call_id=row["call_id"], linked_id=row["linked_id"], direction=Direction(row["direction"]),
        caller=row["caller"], callee=row["callee"], caller_user_id=row["caller_user_id"],
        callee_user_id=row["callee_user_id"], organisation_ids=tuple(row["organisation_ids"]),
        started_at=row["started_at"], answered_at=row["answered_at"], ended_at=row["ended_at"],
        outcome=DialStatus(row["outcome"]) if row["outcome"] else None,
        notice_finished_at=row["notice_finished_at"])
