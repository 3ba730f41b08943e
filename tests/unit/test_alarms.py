"""Alarms as incidents (pure): raised once, reminded while they last, cleared once; the conditions that
raise them from what the service's parts report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from asterisk_rec.alarms.conditions import Readings, Thresholds, holding
from asterisk_rec.alarms.model import AlarmKey, AlarmKind, Incident, Notice, Timing, update
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
