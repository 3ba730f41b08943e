"""Alarms as incidents (pure): a condition that holds raises one, it lasts while the condition holds and is
cleared when it no longer does. Each incident is told once when raised, reminded at a set interval while
it lasts, and told once when cleared: an incident that lasts sends no storm, and one that comes and goes
within the grace it takes to be raised sends nothing."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum


class AlarmKind(StrEnum):
    ARI_LOST = "ari_lost"  # the Stasis app is not connected: calls go to the organisations' fail modes
    AMI_LOST = "ami_lost"  # no CDRs over AMI (they wait in Asterisk's CDR file)
    APP_DOWN = "app_down"  # Asterisk connected or refused calls without the app (AsteriskRecAppDown)
    ARCHIVE_FAILING = "archive_failing"  # recordings cannot be stored (they wait in Asterisk's spool)
    DISK_FILLING = "disk_filling"  # the spool's or the archive's disk beyond its threshold
    COMPLETENESS = "completeness"  # calls that had to be recorded and are not recorded completely


class Notice(StrEnum):
    RAISED = "raised"
    REMINDER = "reminder"
    CLEARED = "cleared"


@dataclass(frozen=True)
class AlarmKey:
    kind: AlarmKind
    organisation_id: int | None = None  # None: the installation's (told to every organisation's admins)


@dataclass(frozen=True)
class Incident:
    key: AlarmKey
    raised_at: datetime
    detail: str
    notified_at: datetime
    reminders: int = 0


@dataclass(frozen=True)
class Told:
    """What to tell whom about an incident."""

    notice: Notice
    incident: Incident
    cleared_at: datetime | None = None


@dataclass(frozen=True)
class Timing:
    remind_every: timedelta = timedelta(hours=1)


def update(active: dict[AlarmKey, Incident], holding: dict[AlarmKey, str], now: datetime,
           timing: Timing = Timing()) -> tuple[dict[AlarmKey, Incident], list[Told]]:
    """The incidents after a look at the conditions ``holding`` now (each with what it says), and what must
    be told: new ones raised, lasting ones reminded when due, gone ones cleared."""
    after: dict[AlarmKey, Incident] = {}
    told: list[Told] = []
    for key, detail in holding.items():
        incident = active.get(key)
        if incident is None:
            incident = Incident(key, now, detail, now)
            told.append(Told(Notice.RAISED, incident))
        elif now - incident.notified_at >= timing.remind_every:
            incident = replace(incident, detail=detail, notified_at=now, reminders=incident.reminders + 1)
            told.append(Told(Notice.REMINDER, incident))
        else:
            incident = replace(incident, detail=detail)
        after[key] = incident
    for key, incident in active.items():
        if key not in holding:
            told.append(Told(Notice.CLEARED, incident, now))
    return after, told
