"""The completeness check's pure parts: what a recording had to cover, the verdicts, the recording's own
account of what it left out on purpose, the dialplan's mark, and the report's days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asterisk_rec.callflow.recording import Recording
from asterisk_rec.completeness import wire
from asterisk_rec.completeness.model import (
    Excuse,
    Excused,
    Outcome,
    Reason,
    RecordedCall,
    RecordingStatus,
    Rules,
    UnrecordedCall,
    judge_recorded,
    judge_unrecorded,
    required_seconds,
)
from asterisk_rec.completeness.service import CompletenessService, parse_day
from asterisk_rec.completeness.store import CallFacts
from asterisk_rec.completeness.unrecorded import app_down_call
from asterisk_rec.directory.models import FailMode, Organisation, RecordingMode, User
from asterisk_rec.errors import InvalidInput, NotFound

T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def recorded(**changes: Any) -> RecordedCall:
    base: dict[str, Any] = dict(status=RecordingStatus.STORED, required_since=at(0), required_until=at(60),
                                excused=(), joined=True, call_ended_at=at(60.2), file_seconds=59.9)
    base.update(changes)
    return RecordedCall(**base)


# What had to be recorded

def test_required_time_is_the_window_less_what_was_left_out_on_purpose() -> None:
    """Hold and the user's pause come off the window; a stretch reaching outside it counts only inside; one
    still open when the recording ended runs to the window's end."""
    excused = [Excused(Excuse.HOLD, at(10), at(20)), Excused(Excuse.PAUSED, at(-5), at(5)),
               Excused(Excuse.TRANSFER, at(50), None)]
    assert required_seconds(at(0), at(60), excused) == pytest.approx(60 - 10 - 5 - 10)
    assert required_seconds(at(10), at(0), excused) == 0.0


# Verdicts

def test_a_file_holding_the_talk_within_the_tolerance_is_complete() -> None:
    """60 s required, 59.9 s in the file: complete (the tolerance is for the start's few milliseconds)."""
    verdict = judge_recorded(recorded(), at(100))
    assert verdict is not None and verdict.outcome is Outcome.COMPLETE
    assert verdict.required_seconds == pytest.approx(60.0)


def test_a_file_shorter_than_the_talk_is_an_exception() -> None:
    """The snoop torn down 20 s before the end: too short, by how much."""
    verdict = judge_recorded(recorded(file_seconds=40.0), at(100))
    assert verdict is not None and verdict.reason is Reason.TOO_SHORT
    assert "20.0 s" in verdict.detail


def test_held_time_is_not_missing() -> None:
    """A 40 s file of a 60 s call with 20 s on hold is complete."""
    verdict = judge_recorded(recorded(file_seconds=40.0, excused=(Excused(Excuse.HOLD, at(20), at(40)),)),
                             at(100))
    assert verdict is not None and verdict.outcome is Outcome.COMPLETE


def test_a_recording_asterisk_never_made_is_an_exception() -> None:
    """Failed in Asterisk, or discarded though the parties talked: recording failed."""
    for status in (RecordingStatus.FAILED, RecordingStatus.DISCARDED):
        verdict = judge_recorded(recorded(status=status, file_seconds=None), at(100))
        assert verdict is not None and verdict.reason is Reason.RECORDING_FAILED


def test_a_call_whose_parties_never_met_needed_no_recording() -> None:
    """Nobody talked: nothing required (not counted)."""
    assert judge_recorded(recorded(joined=False, status=RecordingStatus.DISCARDED), at(100)) is None


def test_a_call_in_progress_or_a_file_on_its_way_is_pending_until_the_deadline() -> None:
    """In progress: pending; ended, not stored: pending until store_within_seconds, then an exception
    that says how often the archive tried."""
    assert judge_recorded(recorded(call_ended_at=None), at(100)).outcome is Outcome.PENDING  # type: ignore[union-attr]
    waiting = recorded(status=RecordingStatus.RECORDING, file_seconds=None, attempts=3, last_error="disk full")
    rules = Rules(store_within_seconds=600)
    assert judge_recorded(waiting, at(600), rules).outcome is Outcome.PENDING  # type: ignore[union-attr]
    late = judge_recorded(waiting, at(661), rules)
    assert late is not None and late.reason is Reason.NOT_STORED and "3 attempts: disk full" in late.detail


def test_purged_recordings_were_complete() -> None:
    """Deleted at the end of their retention: judged by the file they had."""
    verdict = judge_recorded(recorded(status=RecordingStatus.PURGED), at(100))
    assert verdict is not None and verdict.outcome is Outcome.COMPLETE


def test_a_call_connected_without_the_app_is_an_exception_only_if_it_had_to_be_recorded() -> None:
    """Fail open and required: app down (or app failed); fail closed (refused) or not required: nothing."""
    down = judge_unrecorded(UnrecordedCall(app_failed=False, fail_open=True, required=True))
    assert down is not None and down.reason is Reason.APP_DOWN
    failed = judge_unrecorded(UnrecordedCall(app_failed=True, fail_open=True, required=True))
    assert failed is not None and failed.reason is Reason.APP_FAILED
    assert judge_unrecorded(UnrecordedCall(app_failed=False, fail_open=False, required=True)) is None
    assert judge_unrecorded(UnrecordedCall(app_failed=False, fail_open=True, required=False)) is None


# The recording's own account

def new_recording() -> Recording:
    recording = Recording("asterisk-rec/1/2026-12-06/" + "a" * 20, 1, "a" * 20)
    recording.start(at(0))
    recording.started(at(0.01))
    return recording


def test_a_recording_notes_hold_and_the_users_pause_as_excused() -> None:
    """Hold, then the user's pause over it, then both lifted: each stretch excused for its reason; the end
    of the call ends the requirement."""
    recording = new_recording()
    recording.hold_changed(True, at(10))
    recording.toggled_by_user(True, at(15))
    recording.toggled_by_user(True, at(20))  # resumed into hold
    recording.hold_changed(False, at(25))
    recording.close(at(60))
    assert recording.required_since == at(0) and recording.required_until == at(60)
    assert [(e.reason, e.start, e.end) for e in recording.excused] == [
        (Excuse.HOLD, at(10), at(15)), (Excuse.PAUSED, at(15), at(20)), (Excuse.HOLD, at(20), at(25))]


def test_a_transfer_is_excused_until_the_recording_runs_again_and_ends_it_if_nobody_recorded_stays() -> None:
    """Suspended, appended to: the ringing between excused; suspended and settled: required only until the
    settling."""
    recording = new_recording()
    recording.suspend(at(10))
    recording.start(at(18))
    recording.started(at(18.1))
    recording.suspend(at(30))
    recording.settle(at(35))
    recording.close(at(90))
    assert [(e.reason, e.start, e.end) for e in recording.excused] == [
        (Excuse.TRANSFER, at(10), at(18.1)), (Excuse.TRANSFER, at(30), at(35))]
    assert recording.required_until == at(35)


def test_a_recording_asterisk_ended_early_is_not_excused_after() -> None:
    """The snoop gone while on hold: the hold's excuse ends there; the rest of the call is missing."""
    recording = new_recording()
    recording.hold_changed(True, at(10))
    recording.finished(at(12))
    recording.close(at(60))
    assert recording.excused[-1].end == at(12)
    verdict = judge_recorded(recorded(required_since=recording.required_since,
                                      required_until=recording.required_until, excused=tuple(recording.excused),
                                      file_seconds=10.0), at(100))
    assert verdict is not None and verdict.reason is Reason.TOO_SHORT


@given(st.lists(st.tuples(st.sampled_from(list(Excuse)),
                          st.datetimes(timezones=st.timezones(), allow_imaginary=False),
                          st.none() | st.datetimes(timezones=st.just(UTC)))))
def test_excused_stretches_survive_the_journal(items: list[tuple[Excuse, datetime, datetime | None]]) -> None:
    """As JSON (the journal, the recordings row) and back, any time in any zone: the same stretches (the
    same instants: a time in a zone's repeated hour compares unequal to any other zone's)."""
    excused = tuple(Excused(reason, start, end) for reason, start, end in items)

    def instants(stretches: tuple[Excused, ...]) -> list[tuple[Excuse, float, float | None]]:
        return [(e.reason, e.start.timestamp(), e.end.timestamp() if e.end else None) for e in stretches]

    assert instants(wire.excused_in(wire.excused_out(excused))) == instants(excused)


# The dialplan's mark

class Directory:
    def __init__(self) -> None:
        self.org = Organisation(7, "Acme | Zürich", "Europe/Amsterdam", "nl", FailMode.OPEN)
        self.bob = User(id=2, organisation=self.org, extension="202", name="Bob", email=None, language="nl",
                        recording_mode=RecordingMode.ALWAYS, devices=())

    def organisation(self, name: str) -> Organisation:
        if name != self.org.name:
            raise NotFound(name)
        return self.org

    def user_by_device(self, *, endpoint: str | None = None, number: str | None = None) -> User | None:
        return None

    def user_by_extension(self, organisation_id: int, extension: str) -> User | None:
        return self.bob if extension == "202" else None


def test_the_mark_names_the_reason_the_fail_mode_and_the_organisation() -> None:
    """A call to an always-recorded user, connected while the app was down: required, fail open; the
    organisation's name may hold the separator."""
    call = app_down_call("app-down|open|Acme | Zürich", linked_id="1.5", caller="0612345678", number="202",
                         channel="PJSIP/trunk-0001", at=T0, directory=Directory())
    assert call is not None and call.organisation_id == 7 and call.call.required and call.call.fail_open
    assert not call.call.app_failed
    other = app_down_call("app-failed|closed|Acme | Zürich", linked_id="1.6", caller="x", number="299",
                          channel="", at=T0, directory=Directory())
    assert other is not None and other.call.app_failed and not other.call.fail_open and not other.call.required


@given(st.text(), st.text(), st.text())
def test_any_mark_is_read_or_refused_never_raises(mark: str, number: str, channel: str) -> None:
    """Whatever Unicode a CDR carries: a call only for the dialplan's reasons and modes, fields bounded."""
    call = app_down_call(mark, linked_id="1.1", caller=mark, number=number, channel=channel, at=T0,
                         directory=Directory())
    if call is not None:
        assert mark.split("|")[0] in ("app-down", "app-failed") and len(call.number) <= 200
        assert len(call.caller) <= 200 and len(call.organisation_name) <= 200


# The report

class Facts:
    def __init__(self, facts: list[CallFacts]) -> None:
        self.found = facts

    async def facts(self, since: datetime, until: datetime, organisation_id: int | None = None) -> list[CallFacts]:
        return [f for f in self.found if since <= f.started_at < until]


def facts_at(started: datetime, call: RecordedCall | None = None, unrecorded: UnrecordedCall | None = None,
             ) -> CallFacts:
    return CallFacts(organisation_id=7, call_id=None, call_row_id=1, linked_id=str(started.timestamp()),
                     started_at=started, caller="201", callee="202", recorded=call, unrecorded=unrecorded)


@pytest.mark.anyio
async def test_the_report_counts_each_day_in_the_organisations_time_zone() -> None:
    """23:30 UTC on 6 December is 7 December in Amsterdam; pending calls are left out of the percentage; an
    exception is listed; a day without calls is there with none."""
    found = [facts_at(at(0), recorded()), facts_at(datetime(2026, 12, 6, 23, 30, tzinfo=UTC), recorded()),
             facts_at(datetime(2026, 12, 7, 8, 0, tzinfo=UTC), recorded(call_ended_at=None)),
             facts_at(datetime(2026, 12, 7, 9, 0, tzinfo=UTC), recorded(file_seconds=1.0)),
             facts_at(datetime(2026, 12, 7, 10, 0, tzinfo=UTC), recorded(joined=False))]
    service = CompletenessService(Facts(found), None, Rules())  # type: ignore[arg-type]
    report = await service.report(Directory().org, date(2026, 12, 5), date(2026, 12, 7), now=at(86400 * 2))
    by_day = {d.day: d for d in report.days}
    assert by_day[date(2026, 12, 5)].required == 0 and by_day[date(2026, 12, 5)].percent_complete is None
    assert (by_day[date(2026, 12, 6)].required, by_day[date(2026, 12, 6)].complete) == (1, 1)
    seventh = by_day[date(2026, 12, 7)]
    assert (seventh.required, seventh.complete, seventh.pending, seventh.exceptions) == (3, 1, 1, 1)
    assert seventh.percent_complete == pytest.approx(50.0)
    assert [e.verdict.reason for e in report.exceptions] == [Reason.TOO_SHORT] and not report.complete


# 2026-12-06 in fullwidth digits (as an IME types them).
FULLWIDTH_DAY = "2026-12-06".translate({ord(d): 0xFF10 + int(d) for d in "0123456789"})


@pytest.mark.parametrize("value", ["2026-13-01", "2026-02-30", "06-12-2026", FULLWIDTH_DAY, "2026-W49-1",
                                   "20261206", "", "2026-12-06\x00", "0000-01-01", "9999-12-31T00:00"])
def test_a_day_is_a_calendar_day_as_yyyy_mm_dd(value: str) -> None:
    """Anything else, in any script, is refused with what was expected (empty: not given)."""
    if value == "":
        assert parse_day(value, "from") is None
        return
    with pytest.raises(InvalidInput, match="expected a day like"):
        parse_day(value, "from")


@pytest.mark.parametrize(("first", "last"), [(date(2026, 12, 7), date(2026, 12, 6)), (date.min, date(2026, 1, 1)),
                                             (date(2026, 1, 1), date.max), (date(2020, 1, 1), date(2026, 1, 1))])
@pytest.mark.anyio
async def test_a_report_covers_a_year_at_most_in_order(first: date, last: date) -> None:
    """Backwards, beyond the days a report can cover, or more than a year: refused, not an overflow."""
    service = CompletenessService(Facts([]), None, Rules())  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        await service.report(Directory().org, first, last)


def test_a_recording_asterisk_could_not_write_after_it_started_is_failed() -> None:
    """RecordingStarted, then RecordingFailed (the spool unwritable): closed, and failed in Asterisk; a
    recording that simply finished is not."""
    broken = new_recording()
    broken.finished(at(0.02), failed=True)
    assert broken.failed_in_asterisk and not broken.is_open
    finished = new_recording()
    finished.close(at(5))
    finished.finished(at(5.01))
    assert not finished.failed_in_asterisk
