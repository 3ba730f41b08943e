"""The Stasis app: a call entering it (``Stasis(asterisk-rec,call,<number>,<organisation>)``) is
attributed to users through the directory, planned by the policy and run as a ``CallFlow``."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from asterisk_rec.callflow.call import CallFlow, CallRecord, now
from asterisk_rec.callflow.control import CallControl
from asterisk_rec.callflow.events import Event, endpoint_of
from asterisk_rec.callflow.inbox import EventRouter
from asterisk_rec.config import CallSettings
from asterisk_rec.directory import models
from asterisk_rec.directory.models import Organisation, User
from asterisk_rec.directory.store import DirectoryStore
from asterisk_rec.errors import AsteriskRecError, InvalidInput, NotFound
from asterisk_rec.policy import DialStatus, DialTarget, dial_targets, external_target, plan_call
from asterisk_rec.recording.naming import new_call_id, recording_name

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Parties:
    caller: User | None
    callee: User | None
    targets: tuple[DialTarget, ...]


def _e164_or_none(number: str) -> str | None:
    try:
        return models.e164(number)
    except InvalidInput:
        return None


class StasisApp:
    def __init__(self, control: CallControl, directory: DirectoryStore, settings: CallSettings,
                 task_group: Any) -> None:
        self.control = control
        self.directory = directory
        self.settings = settings
        self.task_group = task_group
        self.router = EventRouter(self.on_unclaimed)
        self.active: dict[str, CallFlow] = {}

    async def on_unclaimed(self, event: Event) -> None:
        if event["type"] != "StasisStart":
            return
        args = event.get("args") or []
        if args[:1] == ["call"] and len(args) >= 2:
            self.task_group.start_soon(self.handle_call, event["channel"], args[1], args[2] if len(args) > 2 else "")
        else:
            log.warning("channel %s entered the app with unexpected arguments %s", event["channel"]["name"], args)

    async def attribute(self, channel: Event, number: str, organisation_name: str) -> Parties:
        """Who calls whom: the caller by device (a user's mobile by caller id over the trunk), the callee by
        extension in the organisation, or an outside number (perhaps a user's mobile)."""
        endpoint = endpoint_of(channel["name"])
        caller: User | None = None
        if endpoint == self.settings.trunk:
            mobile = _e164_or_none(channel.get("caller", {}).get("number", ""))
            caller = await self.directory.user_by_device(number=mobile) if mobile else None
        elif endpoint is not None:
            caller = await self.directory.user_by_device(endpoint=endpoint)
        organisation: Organisation | None = None
        if organisation_name:
            organisation = await self.directory.organisation(organisation_name)
        elif caller is not None:
            organisation = caller.organisation
        if number.isdigit() and len(number) <= 10 and organisation is not None:
            callee = await self.directory.user_by_extension(organisation.id, number)
            if callee is None:
                raise NotFound(f"no extension {number} in {organisation.name!r}")
            targets = dial_targets(callee, self.settings.trunk, self.settings.ring_seconds,
                                   self.settings.mobile_ring_seconds)
            return Parties(caller, callee, targets)
        outside = models.e164(number if number.startswith("+") else f"+{number.lstrip('0')}")
        callee = await self.directory.user_by_device(number=outside)
        return Parties(caller, callee, (external_target(outside, self.settings.trunk, self.settings.ring_seconds),))

    async def handle_call(self, channel: Event, number: str, organisation_name: str) -> None:
        call_id = new_call_id()
        record = CallRecord(call_id=call_id, caller_channel=channel["id"])
        try:
            parties = await self.attribute(channel, number, organisation_name)
        except AsteriskRecError as err:
            log.warning("call %s from %s to %s: %s", call_id, channel["name"], number, err)
            await self.control.set_variable(channel["id"], "ASTERISK_REC_DIALSTATUS", DialStatus.CHANUNAVAIL.value)
            await self.control.continue_in_dialplan(channel["id"])
            return
        plan = plan_call(parties.caller, parties.callee)
        name = None
        if plan.records:
            name = recording_name(plan.recorded[0].organisation.id, call_id, now())
        log.info("call %s: %s -> %s, recorded: %s", call_id, channel["name"], number,
                 ", ".join(u.name for u in plan.recorded) or "nobody")
        await self.control.set_variable(channel["id"], "ASTERISK_REC_CALL_ID", call_id)
        flow = CallFlow(self.control, self.router, self.settings, channel, plan, parties.targets, record, name)
        self.active[call_id] = flow
        try:
            await flow.run()
        finally:
            del self.active[call_id]

