"""Retention maths (pure): which periods may be chosen and what they cost, when a recording is due for
deletion, which users count for a month's statement, and who may ask for a bulk download."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from asterisk_rec.directory.models import RecordingMode
from asterisk_rec.errors import InvalidInput

# A bulk download needs at least this period: the month asked for must still be there.
BULK_DOWNLOAD_MIN_DAYS = 180


def period(days: int, offered: dict[int, float]) -> int:
    if days not in offered:
        raise InvalidInput(f"retention period {days} days: choose one of {', '.join(map(str, offered))} days")
    return days


def monthly_cost(days: int, recorded_users: int, offered: dict[int, float]) -> float:
    """What a month costs at this period for this many recorded users."""
    return round(offered[period(days, offered)] * recorded_users, 2)


def purge_before(now: datetime, days: int) -> datetime:
    """Recordings that started before this are past the period."""
    return now - timedelta(days=days)


def due_for_deletion(started_at: datetime, owners_days: Iterable[int], now: datetime, legal_hold: bool) -> bool:
    """A recording goes when the longest period of its owners is over, never while under legal hold."""
    periods = list(owners_days)
    return bool(periods) and not legal_hold and started_at < purge_before(now, max(periods))


def month_bounds(month: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The month's first and the next month's first midnight, in the organisation's time zone."""
    first = month.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return datetime.combine(first, time(), zone), datetime.combine(following, time(), zone)


def parse_month(value: str) -> date:
    try:
        month = datetime.strptime(value.strip(), "%Y-%m").date()
    except ValueError:
        raise InvalidInput(f"month {value!r}: expected YYYY-MM, e.g. 2026-11") from None
    if month >= date.max.replace(day=1):
        # Its end, the next month's first day, is past the last date there is.
        raise InvalidInput(f"month {value!r}: expected a month before 9999-12")
    return month


@dataclass(frozen=True)
class ModeChange:
    at: datetime
    mode: RecordingMode


def recorded_in(changes: Sequence[ModeChange], start: datetime, end: datetime) -> bool:
    """Whether recording was on for any moment of [start, end): it was on at the start (the last change
    before it), or was switched on within."""
    ordered = sorted(changes, key=lambda c: c.at)
    before = [c for c in ordered if c.at <= start]
    if before and before[-1].mode is not RecordingMode.OFF:
        return True
    return any(start <= c.at < end and c.mode is not RecordingMode.OFF for c in ordered)


def bulk_download_refusal(days: int, switched_on: bool) -> str | None:
    """Why this organisation may not ask for a bulk download; None if it may."""
    if days < BULK_DOWNLOAD_MIN_DAYS:
        return (f"bulk download needs a retention period of at least {BULK_DOWNLOAD_MIN_DAYS} days; "
                f"this organisation keeps recordings {days} days")
    if not switched_on:
        return "bulk download is switched off in Settings > Call recording"
    return None
