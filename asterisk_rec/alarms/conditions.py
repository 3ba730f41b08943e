"""Which alarm conditions hold now, from what the service's parts report (pure): a connection down longer
than the grace, calls handled without the app or completeness exceptions found lately, the archive
failing, a disk beyond its threshold."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from asterisk_rec.alarms.model import AlarmKey, AlarmKind
from asterisk_rec.health.state import Dependency


@dataclass(frozen=True)
class Thresholds:
    lost_after_seconds: float = 10.0
    # Calls without the app, completeness exceptions: the incident lasts until none for this long.
    quiet_seconds: float = 900.0
    disk_percent: float = 90.0


@dataclass(frozen=True)
class Readings:
    """The parts' state at one moment; times are the monotonic clock's seconds."""

    now: float
    dependencies: Iterable[Dependency]
    app_down_last_heard: float | None  # the last AsteriskRecAppDown
    app_down_calls: int
    # Per organisation: the last completeness exception found, and how many since the service started.
    exceptions_last_found: Mapping[int, float]
    exceptions_found: Mapping[int, int]
    archive_failing_since: float | None  # storing has failed since (the disk full, a fault), None: it stores
    archive_error: str
    disks: Mapping[str, float]  # percent used, by what the disk holds ("spool", "archive")


_LOST = {"ari": AlarmKind.ARI_LOST, "ami": AlarmKind.AMI_LOST}


def holding(now: Readings, limits: Thresholds = Thresholds()) -> dict[AlarmKey, str]:
    found: dict[AlarmKey, str] = {}
    for dependency in now.dependencies:
        kind = _LOST.get(dependency.name)
        if kind is not None and not dependency.up and now.now - dependency.since >= limits.lost_after_seconds:
            found[AlarmKey(kind)] = f"{dependency.reason} (for {now.now - dependency.since:.0f} s)"
    if now.app_down_last_heard is not None and now.now - now.app_down_last_heard < limits.quiet_seconds:
        found[AlarmKey(AlarmKind.APP_DOWN)] = f"{now.app_down_calls} calls without the app since the service started"
    for organisation_id, last in now.exceptions_last_found.items():
        if now.now - last < limits.quiet_seconds:
            found[AlarmKey(AlarmKind.COMPLETENESS, organisation_id)] = (
                f"{now.exceptions_found.get(organisation_id, 0)} calls not recorded completely")
    if now.archive_failing_since is not None and now.now - now.archive_failing_since >= limits.lost_after_seconds:
        found[AlarmKey(AlarmKind.ARCHIVE_FAILING)] = now.archive_error or "storing recordings fails"
    for disk, percent in now.disks.items():
        if percent >= limits.disk_percent:
            found[AlarmKey(AlarmKind.DISK_FILLING)] = f"the {disk} disk is {percent:.0f} % full"
    return found
