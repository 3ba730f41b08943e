"""The service's alarms: every ``alarms.check_every_seconds`` the conditions are read from the service's
parts; an incident raised, reminded or cleared is logged (an ERROR when raised), noted in the alarms table,
counted, and e-mailed to the admins concerned in their language. A mail that cannot be sent is logged and
not retried (the table and the log keep the incident; the next notice goes out as usual)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import anyio

from asterisk_rec.alarms.conditions import Readings, Thresholds, holding
from asterisk_rec.alarms.model import AlarmKey, AlarmKind, Incident, Notice, Timing, Told, update
from asterisk_rec.alarms.store import AlarmStore
from asterisk_rec.config import AlarmSettings
from asterisk_rec.mail.mailer import Mailer, MailFailed

log = logging.getLogger(__name__)

MAIL_WITHIN_SECONDS = 15.0


class AlarmWatch:
    def __init__(self, store: AlarmStore, mailer: Mailer, settings: AlarmSettings,
                 readings: Callable[[], Readings], organisation_name: Callable[[int], str | None]) -> None:
        self.store = store
        self.mailer = mailer
        self.settings = settings
        self.readings = readings
        self.organisation_name = organisation_name
        self.thresholds = Thresholds(settings.lost_after_seconds, settings.quiet_minutes * 60, settings.disk_percent)
        self.timing = Timing(timedelta(minutes=settings.remind_every_minutes))
        self.active: dict[AlarmKey, Incident] = {}
        self.raised: Counter[AlarmKind] = Counter()

    async def run(self) -> None:
        if self.settings.check_every_seconds <= 0:
            await anyio.sleep_forever()
        self.active = await self.store.active()
        while True:
            await self.look_once()
            await anyio.sleep(self.settings.check_every_seconds)

    async def look_once(self, now: datetime | None = None) -> list[Told]:
        now = now or datetime.now(UTC)
        after, told = update(self.active, holding(self.readings(), self.thresholds), now, self.timing)
        for item in told:
            await self._note(item)
        self.active = after
        # Noted as told already: a stop meanwhile must not cut the e-mails short (bounded, so a hanging
        # mail server cannot hold a stop up). A kill -9 in these moments loses them: the table and the log
        # keep the incident.
        with anyio.CancelScope(shield=True), anyio.move_on_after(MAIL_WITHIN_SECONDS):
            for item in told:
                await self._mail(item)
        return told

    async def _note(self, told: Told) -> None:
        incident = told.incident
        where = self._where(incident.key)
        if told.notice is Notice.RAISED:
            self.raised[incident.key.kind] += 1
            log.error("ALARM %s%s: %s", incident.key.kind.value, where, incident.detail)
            await self.store.raised(incident)
        elif told.notice is Notice.REMINDER:
            log.error("ALARM %s%s still: %s (since %s)", incident.key.kind.value, where, incident.detail,
                      f"{incident.raised_at:%Y-%m-%d %H:%M:%S}")
            await self.store.reminded(incident)
        else:
            assert told.cleared_at is not None
            log.warning("all clear: %s%s after %.0f s", incident.key.kind.value, where,
                        (told.cleared_at - incident.raised_at).total_seconds())
            await self.store.cleared(incident, told.cleared_at)

    def _where(self, key: AlarmKey) -> str:
        if key.organisation_id is None:
            return ""
        return f" ({self.organisation_name(key.organisation_id) or key.organisation_id})"

    async def _mail(self, told: Told) -> None:
        incident = told.incident
        for recipient in await self.store.recipients(incident.key.organisation_id):
            try:
                await self.mailer.send("alarm", recipient.language, recipient.email, {
                    "name": recipient.name, "organisation": recipient.organisation, "kind": incident.key.kind.value,
                    "notice": told.notice.value, "detail": incident.detail,
                    "raised_at": f"{incident.raised_at:%Y-%m-%d %H:%M:%S %Z}",
                    "cleared_at": f"{told.cleared_at:%Y-%m-%d %H:%M:%S %Z}" if told.cleared_at else "",
                    "portal_url": self.settings.portal_url})
            except MailFailed as err:
                log.error("alarm %s: %s", incident.key.kind.value, err)

    @property
    def active_count(self) -> int:
        return len(self.active)
