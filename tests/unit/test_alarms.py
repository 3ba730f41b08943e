"""Alarms as incidents (pure): raised once, reminded while they last, cleared once; the conditions that
raise them from what the service's parts report."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from asterisk_rec.alarms.conditions import Readings, Thresholds, holding
from asterisk_rec.alarms.model import AlarmKey, AlarmKind, Incident, Notice, Timing, update
from asterisk_rec.completeness.judge import ContinuousCheck
from asterisk_rec.completeness.model import Rules
from asterisk_rec.completeness.unrecorded import AppDownCount
from asterisk_rec.health.state import Dependency

T0 = datetime(2026, 12, 6, 22, 0, tzinfo=UTC)
AMI = AlarmKey(AlarmKind.AMI_LOST)


def test_an_incident_is_told_once_reminded_while_it_lasts_and_cleared_once() -> None:
    """Looked at every 5 s for two hours and a minute: raised at once, reminded each full hour, cleared once:
    four notices, not one per look."""
    timing = Timing(timedelta(hours=1))
    active: dict[AlarmKey, Incident] = {}
    told = []
    for step in range(0, 7260, 5):
        active, now_told = update(active, {AMI: "lost"}, T0 + timedelta(seconds=step), timing)
        told += now_told
    active, last = update(active, {}, T0 + timedelta(seconds=7260), timing)
    told += last
    assert [t.notice for t in told] == [Notice.RAISED, Notice.REMINDER, Notice.REMINDER, Notice.CLEARED]
    assert told[-1].cleared_at == T0 + timedelta(seconds=7260) and told[-1].incident.raised_at == T0
    assert told[-1].incident.reminders == 2
    assert active == {}


def test_incidents_of_different_organisations_are_apart() -> None:
    """Organisation 1's exceptions clearing does not clear organisation 2's."""
    one, two = AlarmKey(AlarmKind.COMPLETENESS, 1), AlarmKey(AlarmKind.COMPLETENESS, 2)
    active, told = update({}, {one: "a", two: "b"}, T0)
    assert {t.incident.key for t in told} == {one, two}
    active, told = update(active, {two: "b"}, T0 + timedelta(seconds=5))
    assert [(t.notice, t.incident.key) for t in told] == [(Notice.CLEARED, one)] and set(active) == {two}


def readings(now: float = 100.0, **changes: object) -> Readings:
    base: dict[str, object] = dict(now=now, dependencies=[], app_down_last_heard=None, app_down_calls=0,
                                   exceptions_last_found={}, exceptions_found={}, archive_failing_since=None,
                                   archive_error="", disks={})
    base.update(changes)
    return Readings(**base)  # type: ignore[arg-type]


def test_a_connection_lost_briefly_raises_nothing() -> None:
    """AMI down 5 s: within the grace; 12 s: an alarm saying why and for how long; ARI up: nothing."""
    limits = Thresholds(lost_after_seconds=10)
    down = Dependency("ami", False, 95.0, "connection refused")
    assert holding(readings(dependencies=[down, Dependency("ari", True, 0.0)]), limits) == {}
    found = holding(readings(now=107.0, dependencies=[down]), limits)
    assert found == {AMI: "connection refused (for 12 s)"}


def test_calls_without_the_app_and_exceptions_last_until_quiet() -> None:
    """The last AsteriskRecAppDown or exception 10 min ago: still on with a 15 min quiet time; 16 min: off."""
    limits = Thresholds(quiet_seconds=900)
    recent = readings(now=1000.0, app_down_last_heard=400.0, app_down_calls=3, exceptions_last_found={7: 400.0},
                      exceptions_found={7: 2})
    assert set(holding(recent, limits)) == {AlarmKey(AlarmKind.APP_DOWN), AlarmKey(AlarmKind.COMPLETENESS, 7)}
    assert holding(readings(now=1360.0, app_down_last_heard=400.0, exceptions_last_found={7: 400.0}), limits) == {}


def test_the_archive_failing_and_a_full_disk_raise_alarms() -> None:
    """Failing for 30 s, with its error; a disk at 95 % of a 90 % threshold; one at 50 %: nothing."""
    found = holding(readings(archive_failing_since=70.0, archive_error="No space left on device",
                             disks={"archive": 95.0, "spool": 50.0}), Thresholds(disk_percent=90))
    assert found == {AlarmKey(AlarmKind.ARCHIVE_FAILING): "No space left on device",
                     AlarmKey(AlarmKind.DISK_FILLING): "the archive disk is 95 % full"}


def test_calls_without_the_app_are_learnt_from_their_cdrs_and_the_table_the_latest_kept() -> None:
    """A marked CDR of a call 5 min ago (the service was not running to hear its UserEvent) puts the last
    call without the app 300 s back on the alarms' clock; an older one read later does not move it back;
    nothing known: nothing moves."""
    count = AppDownCount()
    count.call_at(None)
    assert count.last_heard is None
    now = datetime.now(UTC)
    count.call_at(now - timedelta(minutes=5))
    assert count.last_heard is not None and abs(time.monotonic() - count.last_heard - 300) < 5
    latest = count.last_heard
    count.call_at(now - timedelta(hours=2))
    assert count.last_heard == latest
    assert AlarmKey(AlarmKind.APP_DOWN) in holding(readings(now=time.monotonic(), app_down_last_heard=latest))


def test_exceptions_an_earlier_process_found_carry_their_incident_on() -> None:
    """At start the check remembers the table's recent exceptions per organisation: counted, and the last
    one's moment on the alarms' clock (an older note never moves it back)."""
    check = ContinuousCheck(None, Rules(), 0)  # type: ignore[arg-type]
    now = datetime.now(UTC)
    check.remember({7: (3, now - timedelta(minutes=2))})
    check.remember({7: (1, now - timedelta(hours=1))})
    assert check.found_in[7] == 4
    assert abs(time.monotonic() - check.last_found_in[7] - 120) < 5
    found = holding(readings(now=time.monotonic(), exceptions_last_found=dict(check.last_found_in),
                             exceptions_found=dict(check.found_in)))
    assert found == {AlarmKey(AlarmKind.COMPLETENESS, 7): "4 calls not recorded completely"}
