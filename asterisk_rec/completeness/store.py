"""The completeness check's tables: the calls the dialplan connected without the app (``unrecorded_calls``)
and what the service's continuous check found (``completeness_exceptions``); and the facts it judges, read
from the recordings and call rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from asterisk_rec.adapters.db import Database
from asterisk_rec.completeness import wire
from asterisk_rec.completeness.evidence import RecentEvidence
from asterisk_rec.completeness.model import RecordedCall, RecordingStatus, UnrecordedCall

Connection = psycopg.AsyncConnection[Any]


@dataclass(frozen=True)
class AppDownCall:
    """Asterisk's ``AsteriskRecAppDown`` event, as the listener attributed it."""

    linked_id: str
    organisation_id: int | None
    organisation_name: str
    caller: str
    number: str
    at: datetime
    call: UnrecordedCall


@dataclass(frozen=True)
class CallFacts:
    """One call to judge: which, when, who, and either what its recording covered or why the app never
    saw it."""

    organisation_id: int
    call_id: str | None  # the app's (None: it never saw the call)
    call_row_id: int | None  # the call's row in Reports > Calls (None until Asterisk's CDR or the app's is in)
    linked_id: str
    started_at: datetime
    caller: str
    callee: str
    recorded: RecordedCall | None = None
    unrecorded: UnrecordedCall | None = None


_RECORDED = """
SELECT r.organisation_id, r.call_id, c.id AS call_row_id, COALESCE(c.linked_id, a.linked_id, r.call_id) AS linked_id,
       COALESCE(c.started_at, a.started_at, r.started_at) AS started_at,
       COALESCE(c.caller, a.caller, '') AS caller, COALESCE(c.callee, a.callee, '') AS callee,
       r.state, r.required_since, r.required_until, r.excused, r.duration_seconds, r.attempts, r.last_error,
       COALESCE(r.joined_at, a.answered_at, c.answered_at) IS NOT NULL OR r.state IN ('stored', 'purged') AS joined,
       COALESCE(a.ended_at, CASE WHEN c.disposition <> 'in_progress' THEN c.ended_at END) AS call_ended_at
FROM recordings r
LEFT JOIN app_calls a ON a.call_id = r.call_id
LEFT JOIN calls c ON c.call_id = r.call_id
WHERE r.required_since IS NOT NULL AND r.started_at >= %(since)s AND r.started_at < %(until)s
  AND (%(org)s::bigint IS NULL OR r.organisation_id = %(org)s)
ORDER BY r.started_at
"""

_UNRECORDED = """
SELECT u.organisation_id, NULL AS call_id, c.id AS call_row_id, u.linked_id, u.at, u.caller, u.number,
       u.app_failed, u.fail_open, u.required
FROM unrecorded_calls u
LEFT JOIN calls c ON c.linked_id = u.linked_id
WHERE u.organisation_id IS NOT NULL AND u.at >= %(since)s AND u.at < %(until)s
  AND (%(org)s::bigint IS NULL OR u.organisation_id = %(org)s)
ORDER BY u.at
"""


def _recorded(row: dict[str, Any]) -> CallFacts:
    return CallFacts(
        organisation_id=row["organisation_id"], call_id=row["call_id"], call_row_id=row["call_row_id"],
        linked_id=row["linked_id"],
        started_at=row["started_at"], caller=row["caller"], callee=row["callee"],
        recorded=RecordedCall(
            status=RecordingStatus(row["state"]), required_since=row["required_since"],
            required_until=row["required_until"], excused=wire.excused_in(row["excused"]), joined=row["joined"],
            call_ended_at=row["call_ended_at"], file_seconds=row["duration_seconds"], attempts=row["attempts"],
            last_error=row["last_error"]))


def _unrecorded(row: dict[str, Any]) -> CallFacts:
    return CallFacts(
        organisation_id=row["organisation_id"], call_id=row["call_id"], call_row_id=row["call_row_id"],
        linked_id=row["linked_id"],
        started_at=row["at"], caller=row["caller"], callee=row["number"],
        unrecorded=UnrecordedCall(app_failed=row["app_failed"], fail_open=row["fail_open"],
                                  required=row["required"]))


class CompletenessStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    async def app_down_call(call: AppDownCall, conn: Connection) -> None:
        """In the caller's transaction (the CDR's); the same call twice changes nothing."""
        await conn.execute(
            "INSERT INTO unrecorded_calls (linked_id, organisation_id, organisation_name, caller, number, at,"
            " app_failed, fail_open, required)"
            " SELECT %s, o.id, %s, %s, %s, %s, %s, %s, %s FROM (SELECT %s::bigint AS wanted) w"
            " LEFT JOIN organisations o ON o.id = w.wanted"
            " ON CONFLICT (linked_id) DO NOTHING",
            (call.linked_id, call.organisation_name, call.caller, call.number, call.at, call.call.app_failed,
             call.call.fail_open, call.call.required, call.organisation_id))

    async def facts(self, since: datetime, until: datetime, organisation_id: int | None = None) -> list[CallFacts]:
        """The calls begun in [since, until) that needed a recording or were connected without the app."""
        params = {"since": since, "until": until, "org": organisation_id}
        async with self.db.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(_RECORDED, params)
            recorded = [_recorded(row) for row in await cur.fetchall()]
            await cur.execute(_UNRECORDED, params)
            unrecorded = [_unrecorded(row) for row in await cur.fetchall()]
        return sorted(recorded + unrecorded, key=lambda facts: facts.started_at)

    async def exception_found(self, facts: CallFacts, reason: str, detail: str) -> bool:
        """Notes an exception the continuous check found; False if it was found before (its alarm is raised
        once)."""
        async with self.db.pool.connection() as conn:
            cursor = await conn.execute(
                "INSERT INTO completeness_exceptions (linked_id, organisation_id, reason, detail, call_started_at)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (linked_id) DO NOTHING RETURNING linked_id",
                (facts.linked_id, facts.organisation_id, reason, detail, facts.started_at))
            return await cursor.fetchone() is not None

    async def evidence_since(self, since: datetime) -> RecentEvidence:
        """The calls without the app and the exceptions found since ``since`` (the alarms' quiet time)."""
        async with self.db.pool.connection() as conn:
            cursor = await conn.execute("SELECT max(at) FROM unrecorded_calls WHERE at >= %s", (since,))
            (last_app_down,) = await cursor.fetchone() or (None,)
            cursor = await conn.execute(
                "SELECT organisation_id, count(*), max(found_at) FROM completeness_exceptions"
                " WHERE found_at >= %s GROUP BY organisation_id", (since,))
            exceptions = {organisation_id: (count, last) for organisation_id, count, last in await cursor.fetchall()}
        return RecentEvidence(last_app_down, exceptions)
