"""The completeness report: per day, the calls that had to be recorded, how many are recorded completely,
how many are not judged yet, and every exception with its reason (for the CLI, the API and the portal)."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from asterisk_rec.completeness.model import Outcome, Rules, Verdict, judge_recorded, judge_unrecorded
from asterisk_rec.completeness.store import CallFacts, CompletenessStore
from asterisk_rec.config import CompletenessSettings
from asterisk_rec.directory.models import Organisation
from asterisk_rec.directory.store import DirectoryStore
from asterisk_rec.errors import InvalidInput

# The longest report asked for at once.
MAX_DAYS = 366
# A report without a first day: the week up to its last.
DEFAULT_DAYS = 7


@dataclass(frozen=True)
class JudgedCall:
    facts: CallFacts
    verdict: Verdict


@dataclass
class DayTotals:
    day: date
    required: int = 0
    complete: int = 0
    pending: int = 0
    exceptions: int = 0

    @property
    def percent_complete(self) -> float | None:
        """Of the calls judged (pending ones left out); None when none was."""
        judged = self.complete + self.exceptions
        return 100.0 * self.complete / judged if judged else None


@dataclass
class Report:
    organisation: Organisation
    first_day: date
    last_day: date
    days: list[DayTotals] = field(default_factory=list)
    exceptions: list[JudgedCall] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.exceptions

    @property
    def totals(self) -> DayTotals:
        total = DayTotals(self.last_day)
        for day in self.days:
            total.required += day.required
            total.complete += day.complete
            total.pending += day.pending
            total.exceptions += day.exceptions
        return total


def rules_of(settings: CompletenessSettings) -> Rules:
    return Rules(tolerance_seconds=settings.tolerance_seconds, store_within_seconds=settings.store_within_seconds)


def verdict_on(facts: CallFacts, now: datetime, rules: Rules) -> Verdict | None:
    """None: nothing had to be recorded of the call."""
    if facts.recorded is not None:
        return judge_recorded(facts.recorded, now, rules)
    assert facts.unrecorded is not None
    return judge_unrecorded(facts.unrecorded)


_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Days a report may cover: recordings began after 1970, and the day after the last must exist.
EARLIEST, LATEST = date(1970, 1, 1), date(9998, 12, 31)


def parse_day(value: str | None, what: str) -> date | None:
    """A day given as YYYY-MM-DD (None: not given)."""
    if not value:
        return None
    try:
        # Only this form: fromisoformat also reads week dates (2026-W49-1) and 20261206.
        if _DAY.fullmatch(value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise InvalidInput(f"{what} {value[:40]!r}: expected a day like 2026-12-06")


def day_range(first: date, last: date) -> None:
    for day in (first, last):
        if not EARLIEST <= day <= LATEST:
            raise InvalidInput(f"day {day}: expected one from {EARLIEST} to {LATEST}")
    if last < first:
        raise InvalidInput(f"the report's last day {last} is before its first {first}")
    if (last - first).days >= MAX_DAYS:
        raise InvalidInput(f"a report covers at most {MAX_DAYS} days ({first} to {last} is more)")


class CompletenessService:
    def __init__(self, store: CompletenessStore, directory: DirectoryStore, rules: Rules) -> None:
        self.store = store
        self.directory = directory
        self.rules = rules

    async def report_named(self, organisation_name: str, first_day: date | None, last_day: date | None) -> Report:
        """The organisation's report; the last day defaults to today there, the first to a week before."""
        organisation = await self.directory.organisation(organisation_name)
        last = last_day or datetime.now(UTC).astimezone(ZoneInfo(organisation.time_zone)).date()
        return await self.report(organisation, first_day or last - timedelta(days=DEFAULT_DAYS - 1), last)

    async def report(self, organisation: Organisation, first_day: date, last_day: date,
                     now: datetime | None = None) -> Report:
        """The organisation's calls begun on ``first_day`` to ``last_day`` (in its time zone), both included."""
        day_range(first_day, last_day)
        zone = ZoneInfo(organisation.time_zone)
        since = datetime.combine(first_day, time(), zone)
        until = datetime.combine(last_day + timedelta(days=1), time(), zone)
        now = now or datetime.now(UTC)
        report = Report(organisation, first_day, last_day)
        days: dict[date, DayTotals] = defaultdict(lambda: DayTotals(first_day))
        for facts in await self.store.facts(since, until, organisation.id):
            verdict = verdict_on(facts, now, self.rules)
            if verdict is None:
                continue
            day = facts.started_at.astimezone(zone).date()
            totals = days[day]
            totals.day = day
            totals.required += 1
            if verdict.outcome is Outcome.COMPLETE:
                totals.complete += 1
            elif verdict.outcome is Outcome.PENDING:
                totals.pending += 1
            else:
                totals.exceptions += 1
                report.exceptions.append(JudgedCall(facts, verdict))
        report.days = [days[d] if d in days else DayTotals(d) for d in _each_day(first_day, last_day)]
        return report


def _each_day(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
