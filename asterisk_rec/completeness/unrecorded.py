"""The calls the dialplan connected (or refused) without the app: it marks their CDR
(``CDR(asterisk_rec_unrecorded)=<reason>|<fail mode>|<organisation>``) and raises ``UserEvent
AsteriskRecAppDown``. From the mark, the call attributed from the directory in memory, and whether its
parties' policy required it recorded (pure but for the directory lookups)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from asterisk_rec.channel_names import endpoint_of
from asterisk_rec.completeness.evidence import monotonic_at
from asterisk_rec.completeness.model import UnrecordedCall
from asterisk_rec.completeness.store import AppDownCall
from asterisk_rec.directory.models import Organisation, User
from asterisk_rec.errors import NotFound
from asterisk_rec.policy import plan_call

log = logging.getLogger(__name__)

EVENT = "AsteriskRecAppDown"
# The dialplan's reasons: the app was not running; it was, but could not take the call.
APP_DOWN, APP_FAILED = "app-down", "app-failed"
REASONS = (APP_DOWN, APP_FAILED)
# A caller id, number or organisation name longer than this is cut.
MAX_FIELD = 200


class Directory(Protocol):
    def organisation(self, name: str) -> Organisation: ...

    def user_by_device(self, *, endpoint: str | None = None, number: str | None = None) -> User | None: ...

    def user_by_extension(self, organisation_id: int, extension: str) -> User | None: ...


def app_down_call(mark: str, *, linked_id: str, caller: str, number: str, channel: str, at: datetime,
                  directory: Directory) -> AppDownCall | None:
    """The call a CDR's mark is about; None if the mark is not the dialplan's."""
    reason, mode, name = [*mark.split("|", 2), "", ""][:3]
    if reason not in REASONS or mode not in ("open", "closed") or not linked_id:
        return None
    try:
        organisation: Organisation | None = directory.organisation(name)
    except NotFound:
        organisation = None
    endpoint = endpoint_of(channel)
    caller_user = directory.user_by_device(endpoint=endpoint) if endpoint else None
    callee_user = directory.user_by_extension(organisation.id, number) if organisation is not None else None
    return AppDownCall(linked_id=linked_id, organisation_id=organisation.id if organisation else None,
                       organisation_name=name[:MAX_FIELD],
                       # As Reports > Calls names a user: by extension.
                       caller=(caller_user.extension if caller_user else caller)[:MAX_FIELD], number=number[:MAX_FIELD],
                       at=at, call=UnrecordedCall(app_failed=reason == APP_FAILED, fail_open=mode == "open",
                                                  required=plan_call(caller_user, callee_user).records))


class AppDownCount:
    """Asterisk's ``UserEvent AsteriskRecAppDown`` as it is heard over AMI (while the service runs and the
    Stasis app does not): counted and logged as it happens; the call itself is in its marked CDR.

    The alarm lasts until no call went without the app for its quiet time: the last such call is also
    learnt from the marked CDRs as they are read (calls while the service itself was not running, which no
    UserEvent told it of) and, at start, from those already stored (a restart does not end the incident)."""

    def __init__(self) -> None:
        self.calls = 0
        # When the last call without the app was (monotonic seconds), for the alarm.
        self.last_heard: float | None = None

    def call_at(self, at: datetime | None) -> None:
        """A call without the app at ``at`` (from its CDR or the table): the latest is kept."""
        if at is not None:
            self.last_heard = max(self.last_heard or -math.inf, monotonic_at(at))

    def on_user_event(self, manager: Any, event: Mapping[str, str]) -> None:
        """panoramisk's callback (in the event loop)."""
        if event.get("UserEvent") != EVENT:
            return
        self.calls += 1
        self.last_heard = time.monotonic()
        log.error("Asterisk connected or refused a call without the app (%s): from %s to %s in %s",
                  event.get("Reason", APP_DOWN), event.get("Caller", "")[:MAX_FIELD],
                  event.get("Number", "")[:MAX_FIELD], event.get("Organisation", "")[:MAX_FIELD])
