"""Reports > Calls as a query: the filters a person or a script gives, checked, and the SQL that finds
one page of an organisation's calls, newest first (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from asterisk_rec.calls.summary import Direction
from asterisk_rec.errors import InvalidInput

MAX_PAGE = 100_000
MAX_PAGE_SIZE = 200
_NUMBER = re.compile(r"[0-9+*#]{1,20}")


@dataclass(frozen=True)
class CallQuery:
    since: date | None = None  # first day, in the organisation's time zone
    until: date | None = None  # last day, included
    user_id: int | None = None  # calls this directory user made or took
    number: str | None = None  # a part of the caller's or callee's number
    direction: Direction | None = None
    recorded_only: bool = False
    page: int = 1
    page_size: int = 25

    def __post_init__(self) -> None:
        if self.since and self.until and self.since > self.until:
            raise InvalidInput(f"date range: {self.since} is after {self.until}")
        if self.number is not None and not _NUMBER.fullmatch(self.number):
            raise InvalidInput(f"number {self.number!r}: expected up to 20 digits, +, * or #")
        if not 1 <= self.page <= MAX_PAGE:
            raise InvalidInput(f"page {self.page}: expected 1 to {MAX_PAGE}")
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise InvalidInput(f"page size {self.page_size}: expected 1 to {MAX_PAGE_SIZE}")


def direction(value: str | None) -> Direction | None:
    if not value:
        return None
    try:
        return Direction(value)
    except ValueError:
        raise InvalidInput(f"direction {value!r}: expected internal, inbound or outbound") from None


def day(value: str | None, what: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{what} {value!r}: expected a date like 2026-11-28") from None


def day_bounds(query: CallQuery, zone: ZoneInfo) -> tuple[datetime | None, datetime | None]:
    """The date range as instants: from the first day's midnight to the midnight after the last, there."""
    start = datetime.combine(query.since, time(), zone) if query.since else None
    # The last day there is has no day after it: no upper bound then.
    end = (datetime.combine(query.until + timedelta(days=1), time(), zone)
           if query.until and query.until < date.max else None)
    return start, end


def _like(number: str) -> str:
    # A checked number has no LIKE wildcards (% _) to escape.
    return f"%{number}%"


CALL_COLUMNS = """
    c.id, c.call_id, c.started_at, c.answered_at, c.ended_at, c.direction, c.caller, c.callee, c.disposition,
    cu.name AS caller_name, ce.name AS callee_name,
    r.id AS recording_id, r.state AS recording_state, r.purged_at, r.format, r.duration_seconds, r.size_bytes,
    EXISTS (SELECT 1 FROM recording_holds h WHERE h.recording_id = r.id AND h.organisation_id = co.organisation_id)
        AS legal_hold,
    r.path,
    (SELECT coalesce(json_agg(json_build_object('at', t.at, 'kind', t.kind, 'transferor', t.transferor,
                                                'transferee', t.transferee, 'target', t.target,
                                                'outcome', t.outcome, 'answered_at', t.answered_at,
                                                'consultation', t.consultation_call_id)
                              ORDER BY t.seq), '[]'::json)
     FROM call_transfers t WHERE t.call_id = c.call_id) AS transfers
"""
CALL_JOINS = """
    JOIN calls c ON c.id = co.call_id
    LEFT JOIN users cu ON cu.id = c.caller_user_id
    LEFT JOIN users ce ON ce.id = c.callee_user_id
    LEFT JOIN recordings r ON r.call_id = c.call_id AND r.state IN ('stored', 'purged')
"""


def page_sql(query: CallQuery, organisation_id: int, zone: ZoneInfo,
             only_user_id: int | None = None) -> tuple[str, dict[str, Any]]:
    """One page (and one row more, to tell whether another follows) of the organisation's calls that
    match; ``only_user_id``: a plain user's own calls."""
    where = ["co.organisation_id = %(org)s"]
    params: dict[str, Any] = {"org": organisation_id}
    start, end = day_bounds(query, zone)
    if start is not None:
        where.append("co.started_at >= %(start)s")
        params["start"] = start
    if end is not None:
        where.append("co.started_at < %(end)s")
        params["end"] = end
    for key, user_id in (("user", query.user_id), ("scope", only_user_id)):
        if user_id is not None:
            where.append(f"(co.caller_user_id = %({key})s OR co.callee_user_id = %({key})s)")
            params[key] = user_id
    if query.number:
        where.append("(co.caller LIKE %(number)s OR co.callee LIKE %(number)s)")
        params["number"] = _like(query.number)
    if query.direction is not None:
        where.append("co.direction = %(direction)s")
        params["direction"] = query.direction.value
    if query.recorded_only:
        where.append("co.recorded")
    params["limit"] = query.page_size + 1
    params["offset"] = (query.page - 1) * query.page_size
    # The page is found in call_organisations alone (one index holds every filtered column), and only its
    # rows are joined: joining first would join every row the offset skips.
    sql = (f"SELECT {CALL_COLUMNS} FROM (SELECT co.call_id, co.started_at, co.organisation_id"
           " FROM call_organisations co"
           f" WHERE {' AND '.join(where)} ORDER BY co.started_at DESC, co.call_id DESC"
           f" LIMIT %(limit)s OFFSET %(offset)s) co {CALL_JOINS} ORDER BY co.started_at DESC, co.call_id DESC")
    return sql, params


_UNSAFE = re.compile(r"[^0-9A-Za-z+#*-]+")


def download_name(started_at: datetime, caller: str | None, callee: str | None, extension: str,
                  zone: ZoneInfo) -> str:
    """``2026-11-28_143005_201_202.mp3``: the call's local date and time, then the parties."""
    local = started_at.astimezone(zone)
    parties = [_UNSAFE.sub("-", party or "unknown").strip("-") or "unknown" for party in (caller, callee)]
    return f"{local:%Y-%m-%d_%H%M%S}_{parties[0]}_{parties[1]}.{extension}"
