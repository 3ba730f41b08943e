"""Call rows in PostgreSQL. ``calls`` is derived: after changes to calls' app records or CDRs their rows
are computed again from both (``summary.merge``), in the same transaction, so a row is never half-updated
and a CDR received twice (over AMI and from the CSV file) changes nothing. A transaction of many changes
(``writing``) computes each call's row once, at its end, with a few statements for all of them."""

from __future__ import annotations

import dataclasses
import functools
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from asterisk_rec.adapters.db import Database
from asterisk_rec.calls.records import CdrRecord
from asterisk_rec.calls.summary import AppCall, CallRow, CallTransfer, Direction, merge
from asterisk_rec.channel_names import endpoint_of
from asterisk_rec.completeness.store import AppDownCall, CompletenessStore
from asterisk_rec.policy import DialStatus

Connection = psycopg.AsyncConnection[Any]

_CDR_COLUMNS = ("unique_id", "sequence", "linked_id", "call_id", "source", "destination", "context", "caller_id",
                "channel", "destination_channel", "last_application", "last_data", "started_at", "answered_at",
                "ended_at", "disposition", "unrecorded")
_ROW_COLUMNS = tuple(f.name for f in dataclasses.fields(CallRow))


# A CDR the dialplan marked (a call without the app): the call as the completeness check keeps it, if any.
AttributeUnrecorded = Callable[[CdrRecord], AppDownCall | None]


class CallWrites:
    """Changes to calls in one transaction (``CallStore.writing``): each call they touch has its row computed
    once, when they are all made, however many changes and CDRs it had."""

    def __init__(self, conn: Connection, trunks: frozenset[str],
                 attribute_unrecorded: AttributeUnrecorded | None = None) -> None:
        self.conn = conn
        self.trunks = trunks
        self.attribute_unrecorded = attribute_unrecorded
        self.touched: set[str] = set()

    async def app_call_started(self, call: AppCall) -> None:
        await self.conn.execute(
            "INSERT INTO app_calls (call_id, linked_id, direction, caller, callee, caller_user_id,"
            " callee_user_id, organisation_ids, started_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
            # Replayed from the journal after a crash: the second time changes nothing.
            " ON CONFLICT (call_id) DO NOTHING",
            (call.call_id, call.linked_id, call.direction.value, call.caller, call.callee, call.caller_user_id,
             call.callee_user_id, list(call.organisation_ids), call.started_at))
        self.touched.add(call.linked_id)

    async def app_call_ended(self, call_id: str, *, answered_at: datetime | None, ended_at: datetime,
                             outcome: DialStatus | None, notice_finished_at: datetime | None,
                             transfers: Sequence[CallTransfer] = ()) -> None:
        if transfers:
            await _insert_rows(
                self.conn, "call_transfers", ("call_id", "seq", "at", "kind", "transferor", "transferee", "target",
                                              "outcome", "answered_at", "consultation_call_id"),
                [(call_id, seq, t.at, t.kind, t.transferor, t.transferee, t.target, t.outcome, t.answered_at,
                  t.consultation) for seq, t in enumerate(transfers, start=1)], " ON CONFLICT DO NOTHING")
        cursor = await self.conn.execute(
            "UPDATE app_calls SET answered_at = COALESCE(%s, answered_at), ended_at = %s,"
            " outcome = COALESCE(%s, outcome), notice_finished_at = COALESCE(%s, notice_finished_at)"
            " WHERE call_id = %s RETURNING linked_id",
            (answered_at, ended_at, outcome.value if outcome else None, notice_finished_at, call_id))
        row = await cursor.fetchone()
        if row is not None:
            self.touched.add(row[0])

    async def add_cdrs(self, records: Iterable[CdrRecord], via: str) -> int:
        """Stores the CDRs of parties (not the app's snoops) not stored yet; returns how many were new."""
        records = list(records)
        rows = [(*(getattr(record, c) for c in _CDR_COLUMNS), via) for record in records if record.of_a_party]
        if not rows:
            return 0
        new = await _insert_rows(self.conn, "cdr_records", (*_CDR_COLUMNS, "received_via"), rows,
                                 " ON CONFLICT DO NOTHING RETURNING linked_id")
        self.touched.update(linked_id for (linked_id,) in new)
        if self.attribute_unrecorded is not None:
            for record in records:
                call = self.attribute_unrecorded(record) if record.unrecorded else None
                if call is not None:
                    await CompletenessStore.app_down_call(call, self.conn)
        return len(new)

    async def compute_rows(self) -> None:
        if self.touched:
            await _recompute(self.conn, sorted(self.touched), self.trunks)
            self.touched.clear()


class CallStore:
    def __init__(self, db: Database, trunks: frozenset[str],
                 attribute_unrecorded: AttributeUnrecorded | None = None) -> None:
        self.db = db
        self.trunks = trunks
        self.attribute_unrecorded = attribute_unrecorded

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[CallWrites]:
        """One transaction for several changes (the journal's entries, a batch of CDRs); the rows of the
        calls they touched are computed at its end, in it."""
        async with self.db.pool.connection() as conn, conn.transaction():
            writes = CallWrites(conn, self.trunks, self.attribute_unrecorded)
            yield writes
            await writes.compute_rows()

    async def app_call_started(self, call: AppCall) -> None:
        async with self.writing() as writes:
            await writes.app_call_started(call)

    async def app_call_ended(self, call_id: str, *, answered_at: datetime | None, ended_at: datetime,
                             outcome: DialStatus | None, notice_finished_at: datetime | None,
                             transfers: Sequence[CallTransfer] = ()) -> None:
        async with self.writing() as writes:
            await writes.app_call_ended(call_id, answered_at=answered_at, ended_at=ended_at, outcome=outcome,
                                        notice_finished_at=notice_finished_at, transfers=transfers)

    async def add_cdrs(self, records: Iterable[CdrRecord], via: str) -> int:
        """Stores the CDRs of parties (not the app's snoops) not stored yet; returns how many were new."""
        async with self.writing() as writes:
            return await writes.add_cdrs(records, via)

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


# PostgreSQL takes at most 65535 parameters in one statement.
MAX_PARAMETERS = 65535


@functools.lru_cache(maxsize=64)
def _values(columns: int, rows: int) -> str:
    """``($1, $2), ($3, $4)``: PostgreSQL's own placeholders, numbered here once for each shape."""
    return ", ".join("(" + ", ".join(f"${row * columns + column}" for column in range(1, columns + 1)) + ")"
                     for row in range(rows))


async def _insert_rows(conn: Connection, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
                       tail: str = "") -> list[tuple[Any, ...]]:
    """Many rows in one statement (one round trip), in chunks under PostgreSQL's parameter limit; returns
    what ``tail``'s RETURNING gives. A raw cursor: psycopg would otherwise rewrite every ``%s`` of a
    statement this long each time (not cached past 50 parameters), which took half of a CDR burst's time."""
    per_statement = max(1, MAX_PARAMETERS // len(columns))
    returned: list[tuple[Any, ...]] = []
    async with psycopg.AsyncRawCursor(conn) as cursor:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start:start + per_statement]
            await cursor.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES {_values(len(columns), len(chunk))}{tail}",
                [value for row in chunk for value in row])
            if cursor.description is not None:
                returned.extend(await cursor.fetchall())
    return returned


async def _recompute(conn: Connection, linked_ids: list[str], trunks: frozenset[str]) -> None:
    """The rows of these calls computed again from their app records and CDRs, with a handful of statements
    however many calls there are."""
    # One recompute of a call at a time: the app's end and a CDR arriving together would otherwise each read
    # the other's change uncommitted, and the later commit would drop the earlier one's part. Taken in one
    # order (by key), so two transactions never wait for each other in a circle.
    await conn.execute(
        "SELECT pg_advisory_xact_lock(key) FROM (SELECT DISTINCT hashtext('call:' || id) AS key"
        " FROM unnest(%s::text[]) AS id ORDER BY key) AS keys", (linked_ids,))
    apps: dict[str, AppCall] = {}
    cdrs: dict[str, list[CdrRecord]] = defaultdict(list)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT * FROM app_calls WHERE linked_id = ANY(%s) ORDER BY started_at, call_id",
                          (linked_ids,))
        for app_row in await cur.fetchall():
            apps.setdefault(app_row["linked_id"], _app_call(app_row))
        await cur.execute(f"SELECT {', '.join(_CDR_COLUMNS)} FROM cdr_records WHERE linked_id = ANY(%s)",
                          (linked_ids,))
        for cdr_row in await cur.fetchall():
            cdrs[cdr_row["linked_id"]].append(CdrRecord(**cdr_row))
    computed: list[tuple[CallRow, set[int]]] = []
    for linked_id in linked_ids:
        app = apps.get(linked_id)
        if app is None and not cdrs.get(linked_id):
            continue
        computed.append((merge(app, cdrs[linked_id], trunks), set(app.organisation_ids) if app else set()))
    if not computed:
        return
    computed = await _attribute(conn, computed, {linked_id for linked_id in cdrs if linked_id not in apps}, cdrs)
    ids = dict(await _insert_rows(
        conn, "calls", _ROW_COLUMNS, [tuple(getattr(row, c) for c in _ROW_COLUMNS) for row, _ in computed],
        " ON CONFLICT (linked_id) DO UPDATE SET "
        + ", ".join(f"{c} = EXCLUDED.{c}" for c in _ROW_COLUMNS if c != "linked_id")
        + ", updated_at = now() RETURNING linked_id, id"))
    listed = [(row, organisation_id) for row, organisations in computed for organisation_id in sorted(organisations)]
    if not listed:
        return
    cursor = await conn.execute("SELECT DISTINCT call_id FROM recordings WHERE call_id = ANY(%s) AND state = 'stored'",
                                ([row.call_id for row, _ in listed if row.call_id],))
    recorded = {call_id for (call_id,) in await cursor.fetchall()}
    # What Reports > Calls filters on is kept beside the organisation (one index answers a page).
    await _insert_rows(
        conn, "call_organisations", ("call_id", "organisation_id", "started_at", "direction", "caller", "callee",
                                     "caller_user_id", "callee_user_id", "recorded"),
        [(ids[row.linked_id], organisation_id, row.started_at, row.direction, row.caller, row.callee,
          row.caller_user_id, row.callee_user_id, row.call_id in recorded) for row, organisation_id in listed],
        " ON CONFLICT (call_id, organisation_id) DO UPDATE SET started_at = EXCLUDED.started_at,"
        " direction = EXCLUDED.direction, caller = EXCLUDED.caller, callee = EXCLUDED.callee,"
        " caller_user_id = EXCLUDED.caller_user_id, callee_user_id = EXCLUDED.callee_user_id,"
        " recorded = EXCLUDED.recorded")


async def _attribute(conn: Connection, computed: list[tuple[CallRow, set[int]]], unhandled: set[str],
                     cdrs: dict[str, list[CdrRecord]]) -> list[tuple[CallRow, set[int]]]:
    """The calls the app did not handle (its fail mode, or not routed through it): users by the PJSIP
    endpoints of their first CDR's channels, all looked up at once."""
    sides: dict[str, tuple[str | None, str | None]] = {}
    for linked_id in unhandled:
        first = min((r for r in cdrs[linked_id] if r.of_a_party), key=lambda r: (r.started_at, r.sequence))
        sides[linked_id] = (endpoint_of(first.channel), endpoint_of(first.destination_channel))
    wanted = sorted({endpoint for pair in sides.values() for endpoint in pair if endpoint})
    if not wanted:
        users: dict[str, tuple[int, int, str]] = {}
    else:
        cursor = await conn.execute(
            "SELECT d.endpoint, u.id, u.organisation_id, u.extension FROM devices d JOIN users u ON u.id = d.user_id"
            " WHERE d.endpoint = ANY(%s)", (wanted,))
        users = {endpoint: (user_id, org_id, extension) for endpoint, user_id, org_id, extension
                 in await cursor.fetchall()}
    attributed = []
    for row, organisations in computed:
        if row.linked_id not in sides:
            attributed.append((row, organisations))
            continue
        caller_endpoint, callee_endpoint = sides[row.linked_id]
        caller, callee = users.get(caller_endpoint or ""), users.get(callee_endpoint or "")
        row = dataclasses.replace(row, caller_user_id=caller[0] if caller else None,
                                  callee_user_id=callee[0] if callee else None,
                                  caller=caller[2] if caller else row.caller)
        attributed.append((row, {user[1] for user in (caller, callee) if user}))
    return attributed
