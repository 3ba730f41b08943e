"""The Stasis app: a call entering it (``Stasis(asterisk-rec,call,<number>,<organisation>)``) is
attributed to users through the directory, planned by the policy and run as a ``CallFlow``."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from asterisk_rec.callflow.admission import Caller, Refusal, may_call_outside, organisation_for
from asterisk_rec.callflow.call import (
    RECORDING_VARIABLE,
    CallFlow,
    CallRecord,
    CallTimings,
    Clock,
    Party,
    TransferResolver,
    now,
)
from asterisk_rec.callflow.control import CallControl
from asterisk_rec.callflow.events import Event
from asterisk_rec.callflow.inbox import EventRouter
from asterisk_rec.callflow.ledger import CallLedger
from asterisk_rec.callflow.phases import CallPhase
from asterisk_rec.callflow.recording import Recording
from asterisk_rec.callflow.talking import PAUSED_VARIABLE
from asterisk_rec.callflow.transfer import Destination
from asterisk_rec.calls.summary import AppCall, app_direction
from asterisk_rec.channel_names import endpoint_of
from asterisk_rec.config import CallSettings
from asterisk_rec.directory import models
from asterisk_rec.directory.models import Organisation, User
from asterisk_rec.errors import AsteriskRecError, CallRefused, InvalidInput, NotFound
from asterisk_rec.logs import about_call, current_call
from asterisk_rec.policy import (
    CallPlan,
    DialStatus,
    DialTarget,
    Pickup,
    Side,
    dial_targets,
    external_target,
    may_pick_up,
    pickup_of,
    plan_call,
)
from asterisk_rec.recording.naming import new_call_id, parse_recording_name, recording_name

log = logging.getLogger(__name__)

# The ids the app gives what it creates (call ids are 20 hex digits): see CallFlow._id.
_BRIDGE = re.compile(r"ar-([0-9a-f]{20})-bridge")
_CALL_CHANNEL = re.compile(r"ar-([0-9a-f]{20})-(?:leg\d+|t\d+r\d+leg\d+|snoop\d*)")


def newest_snoop(call_id: str, channels: dict[str, Event]) -> str | None:
    """The call's snoop still in Asterisk: the newest, after a transfer or a forwarding (``snoop<N>``)."""
    numbered = [(int(match[1] or 0), channel) for channel in channels
                if (match := re.fullmatch(rf"ar-{call_id}-snoop(\d*)", channel))]
    return max(numbered)[1] if numbered else None


@dataclass(frozen=True)
class Parties:
    caller: User | None
    callee: User | None
    targets: tuple[DialTarget, ...]
    organisation: Organisation
    from_trunk: bool = False

    def labels(self, channel: Event, number: str) -> tuple[str, str]:
        """How the call row names caller and callee: a user's extension, else the caller's number (or
        endpoint) and the number dialled."""
        caller_number = channel.get("caller", {}).get("number", "") or endpoint_of(channel.get("name", "")) or ""
        return (self.caller.extension if self.caller else caller_number,
                self.callee.extension if self.callee else number)

    @property
    def organisation_ids(self) -> tuple[int, ...]:
        """The organisations whose calls this is: each party's (a call between two appears in both)."""
        ids = {user.organisation.id for user in (self.caller, self.callee) if user is not None}
        if not ids:
            ids.add(self.organisation.id)
        return tuple(sorted(ids))


class Directory(Protocol):
    """The lookups a call needs (``DirectoryCache``, from memory)."""

    def organisation(self, name: str) -> Organisation: ...

    def user_by_device(self, *, endpoint: str | None = None, number: str | None = None) -> User | None: ...

    def user_by_extension(self, organisation_id: int, extension: str) -> User | None: ...


def _e164_or_none(number: str) -> str | None:
    try:
        return models.e164(number)
    except InvalidInput:
        return None


class StasisApp:
    def __init__(self, control: CallControl, directory: Directory, settings: CallSettings,
                 ledger: CallLedger, task_group: Any, *, call_ids: Callable[[], str] = new_call_id,
                 clock: Clock = now) -> None:
        self.control = control
        # Where new calls' ids and the time come from (a replay gives the recorded ones).
        self.call_ids = call_ids
        self.clock = clock
        self.ledger = ledger
        self.directory = directory
        self.settings = settings
        self.task_group = task_group
        self.router = EventRouter(self.on_unclaimed, control.trace)
        self.active: dict[str, CallFlow] = {}
        self.timings = CallTimings()

    async def reconcile(self) -> None:
        """After (re)connecting: tell the calls we know what happened while we were away, adopt the
        connected calls a previous process left in Asterisk, and end what never connected."""
        channels = {channel["id"]: channel for channel in await self.control.channels()}
        for flow in list(self.active.values()):
            for gone in flow.live_channels():
                if gone not in channels:
                    flow.inbox.deliver({"type": "ChannelDestroyed", "channel": {"id": gone}, "cause": 16})
        taken = {flow.caller for flow in self.active.values()} | set(self.active)
        for bridge in await self.control.bridges():
            match = _BRIDGE.fullmatch(bridge["id"])
            if match is None or match[1] in self.active:
                continue
            call_id = match[1]
            taken.add(call_id)
            await self._adopt(call_id, bridge, channels, taken)
        for channel_id, channel in channels.items():
            await self._end_orphan(channel_id, channel, taken)

    async def _adopt(self, call_id: str, bridge: Event, channels: dict[str, Event], taken: set[str]) -> None:
        members = bridge.get("channels", [])
        leg = next((c for c in members if c.startswith(f"ar-{call_id}-leg")), None)
        caller = next((c for c in members if not c.startswith("ar-")), None)
        snoop = newest_snoop(call_id, channels)
        if leg is None or caller is None:
            # Also a call in the middle of a transfer (the transferee alone in the bridge, the target's
            # devices ringing): its recording so far is complete in the spool, and archived by the sweep.
            log.info("call %s: a party left while the app was away: ending it", call_id)
            others = [channel for channel in channels if (match := _CALL_CHANNEL.fullmatch(channel)) is not None
                       and match[1] == call_id and channel not in members]
            for channel in [*members, *others]:
                await self.control.hangup(channel)
            await self.control.destroy_bridge(bridge["id"])
            return
        taken.add(caller)
        recording = await self._recording_of(call_id, caller)
        plan, parties = await self._plan_again(call_id, channels.get(caller))
        log.info("call %s: adopted (recording %s%s)", call_id, recording.name if recording else "none",
                 f", {recording.state.value}" if recording else "")
        flow = CallFlow.adopted(self.control, self.router, self.settings, self.ledger, call_id, caller, leg,
                                bridge["id"], snoop, recording, plan,
                                parties.organisation_ids if parties else (), self.clock, self.timings)
        if parties is not None:
            # Its parties may transfer it, as before the restart; who heard the notice, by the plan.
            flow.resolve_transfer = self._transfers_in(parties.organisation)
            flow.find_call = self._call_talking_on
            args = channels[caller].get("dialplan", {}).get("app_data", "").split(",")
            caller_label, callee_label = parties.labels(channels[caller], args[2] if len(args) > 2 else "")
            flow.party[caller] = Party(caller_label, parties.caller, flow.notice_to(Side.CALLER) is not None)
            flow.callee = flow.party[leg] = Party(callee_label, parties.callee,
                                                  flow.notice_to(Side.CALLEE) is not None)
        self.task_group.start_soon(self._conduct, call_id, flow, flow.resume)

    async def _recording_of(self, call_id: str, caller: str) -> Recording | None:
        """The recording of an adopted call, as its caller's channel tells (its name is the one thing
        Asterisk keeps of it), with the parts recorded before the restart (the last one still open if it
        was running)."""
        name = await self.control.get_variable(caller, RECORDING_VARIABLE) or None
        parsed = parse_recording_name(name) if name else None
        if name is None or parsed is None:
            return None
        paused = bool(await self.control.get_variable(caller, PAUSED_VARIABLE))
        return Recording.adopted(name, parsed.organisation_id, call_id, paused_by_user=paused,
                                 covered=await self.ledger.covered(name))

    async def _plan_again(self, call_id: str, caller: Event | None) -> tuple[CallPlan, Parties | None]:
        """An adopted call's parties and their policy, from what the caller's channel was sent to the app
        with (``Stasis(asterisk-rec,call,<number>,<organisation>)``), so their feature code and transfers
        keep working. Without them the call goes on as it is."""
        app_data = (caller or {}).get("dialplan", {}).get("app_data", "")
        args = app_data.split(",")
        if caller is None or args[:2] != [self.control.app, "call"] or len(args) < 3:
            log.warning("call %s: cannot tell its parties again (%r): the feature code is off", call_id, app_data)
            return CallPlan((), (), ()), None
        try:
            parties = await self.attribute(caller, args[2], args[3] if len(args) > 3 else "")
        except Exception:
            log.exception("call %s: cannot tell its parties again: the feature code is off", call_id)
            return CallPlan((), (), ()), None
        return plan_call(parties.caller, parties.callee), parties

    async def _end_orphan(self, channel_id: str, channel: Event, taken: set[str]) -> None:
        """A leg or snoop of a call nobody runs is hung up; a caller left waiting goes back to the dialplan."""
        match = _CALL_CHANNEL.fullmatch(channel_id)
        if match is not None and match[1] not in taken:
            await self.control.hangup(channel_id)
            return
        dialplan = channel.get("dialplan", {})
        waiting = dialplan.get("app_name") == "Stasis" and dialplan.get("app_data", "").startswith(
            f"{self.control.app},call,")
        if waiting and channel_id not in taken:
            log.info("caller %s was left ringing while the app was away: back to the dialplan", channel["name"])
            await self.control.set_variable(channel_id, "ASTERISK_REC_DIALSTATUS", DialStatus.CHANUNAVAIL.value)
            await self.control.continue_in_dialplan(channel_id)

    async def _conduct(self, call_id: str, flow: CallFlow, steps: Callable[[], Awaitable[CallRecord]]) -> None:
        self.active[call_id] = flow
        if current_call() is None:  # an adopted call (a new one has been since its StasisStart)
            about_call(call_id, flow.owners[0] if flow.owners else None)
        try:
            await steps()
        finally:
            del self.active[call_id]

    async def on_unclaimed(self, event: Event) -> None:
        if event["type"] != "StasisStart":
            return
        args = event.get("args") or []
        if args[:1] == ["call"] and len(args) >= 2:
            self.task_group.start_soon(self.handle_call, event["channel"], args[1], args[2] if len(args) > 2 else "",
                                       args[3] if len(args) > 3 else None)
        else:
            log.warning("channel %s entered the app with unexpected arguments %s", event["channel"]["name"], args)

    async def attribute(self, channel: Event, number: str, organisation_name: str) -> Parties:
        """Who calls whom: the caller by device (a user's mobile by caller id over a trusted trunk), the
        callee by extension in the call's organisation, or an outside number (perhaps a user's mobile),
        dialled through the organisation's trunk for calls out.
        From the directory in memory: PostgreSQL is not asked, so it may be away. What the caller may reach
        is ``admission``'s: raises ``CallRefused`` otherwise."""
        endpoint = endpoint_of(channel["name"])
        trunks = self.settings.trunk_plan
        trunk = trunks.named(endpoint)
        from_trunk = trunk is not None
        caller: User | None = None
        if trunk is not None:
            mobile = _e164_or_none(channel.get("caller", {}).get("number", ""))
            if mobile and trunk.caller_id_trusted:
                caller = self.directory.user_by_device(number=mobile)
        elif endpoint is not None:
            caller = self.directory.user_by_device(endpoint=endpoint)
        who = Caller(from_trunk, caller.organisation.name if caller else None)
        decided = organisation_for(who, organisation_name, self.settings.trunk_organisation_names)
        if isinstance(decided, Refusal):
            raise CallRefused(f"{decided.value} ({organisation_name!r})")
        organisation = caller.organisation if caller and caller.organisation.name == decided else \
            self.directory.organisation(decided)
        destination = self._destination(organisation, number, may_call_outside(who))
        return Parties(caller, destination.user, destination.targets, organisation, from_trunk)

    def _destination(self, organisation: Organisation, number: str, may_call_out: bool) -> Destination:
        """Who a number dialled in the organisation is and what rings: an extension's every device, or an
        outside number (perhaps a user's mobile) over the organisation's trunk, for those who may call out."""
        trunk_out = self.settings.trunk_plan.outgoing(organisation.name).endpoint
        if number.isascii() and number.isdigit() and len(number) <= 10:
            callee = self.directory.user_by_extension(organisation.id, number)
            if callee is None:
                raise NotFound(f"no extension {number} in {organisation.name!r}")
            # With no-answer forwarding, the user's devices ring as long as the user chose.
            ring = callee.forwarding.no_answer_seconds if callee.forwarding.no_answer else self.settings.ring_seconds
            return Destination(number, callee, dial_targets(callee, trunk_out, ring,
                                                               self.settings.mobile_ring_seconds))
        if not may_call_out:
            raise CallRefused(f"{Refusal.NOT_A_USER_CALLING_OUT.value}: {number}")
        outside = models.e164(number if number.startswith("+") else f"+{number.lstrip('0')}")
        return Destination(outside, self.directory.user_by_device(number=outside),
                              (external_target(outside, trunk_out, self.settings.ring_seconds),))

    def _transfers_in(self, organisation: Organisation) -> TransferResolver:
        """Where the call's transfers may go: the organisation's extensions; outside numbers only for a
        transferor who is one of its users (as for calling out)."""
        async def resolve(number: str, transferor: User | None) -> Destination:
            may_call_out = transferor is not None and transferor.organisation.id == organisation.id
            return self._destination(organisation, number, may_call_out)

        return resolve

    def _call_talking_on(self, channel: str) -> CallFlow | None:
        """The call one of whose two talking parties is on ``channel`` (an attended transfer's consultation)."""
        return next((flow for flow in self.active.values() if channel in (flow.caller, flow.answered)), None)

    async def _hand_back(self, channel: str, status: DialStatus) -> None:
        try:
            await self.control.set_variable(channel, "ASTERISK_REC_DIALSTATUS", status.value)
            await self.control.continue_in_dialplan(channel)
        except AsteriskRecError as err:
            log.error("cannot hand %s back to the dialplan: %s", channel, err)

    def _picker(self, channel: Event, number: str) -> tuple[User, Pickup] | None:
        """A user's device dialling one of their organisation's pickup codes."""
        endpoint = endpoint_of(channel["name"])
        if endpoint is None or self.settings.trunk_plan.named(endpoint) is not None:
            return None
        picker = self.directory.user_by_device(endpoint=endpoint)
        pickup = pickup_of(number, picker) if picker is not None else None
        return (picker, pickup) if picker is not None and pickup is not None else None

    async def _pick_up(self, channel: Event, picker: User, pickup: Pickup) -> None:
        """Hands the picker's channel to the longest-ringing call it may take, or back to the dialplan."""
        ringing = [flow for flow in self.active.values() if flow.phase.kind is CallPhase.RINGING
                   and flow.answered is None and may_pick_up(pickup, picker, flow.callee.user)]
        if not ringing:
            log.info("%s dialled a pickup code: no ringing call to pick up", picker.name)
            await self._hand_back(channel["id"], DialStatus.CHANUNAVAIL)
            return
        ringing[0].pick_up(channel, picker)

    async def handle_call(self, channel: Event, number: str, organisation_name: str,
                          linked_id: str | None = None) -> None:
        """``linked_id``: the call's LinkedID as the dialplan passed it (else asked of Asterisk)."""
        picking = self._picker(channel, number)
        if picking is not None:
            await self._pick_up(channel, *picking)
            return
        call_id = self.call_ids()
        about_call(call_id)
        record = CallRecord(call_id=call_id, caller_channel=channel["id"])
        try:
            parties = await self.attribute(channel, number, organisation_name)
        except (NotFound, InvalidInput, CallRefused) as err:
            log.warning("call %s from %s to %s: %s", call_id, channel["name"], number, err)
            await self._hand_back(channel["id"], DialStatus.CHANUNAVAIL)
            return
        except Exception:
            # A fault of the app's own: the dialplan then does what it does when the app is down, as the
            # organisation chose (fail open or closed).
            log.exception("call %s from %s to %s: cannot attribute the call", call_id, channel["name"], number)
            await self._hand_back(channel["id"], DialStatus.APPFAILED)
            return
        about_call(call_id, parties.organisation.id)
        plan = plan_call(parties.caller, parties.callee)
        if plan.records:
            organisation_id = plan.recorded[0].organisation.id
            record.recording = Recording(recording_name(organisation_id, call_id, self.clock()), organisation_id,
                                         call_id)
        log.info("call %s: %s -> %s, recorded: %s", call_id, channel["name"], number,
                 ", ".join(u.name for u in plan.recorded) or "nobody")
        try:
            await self.control.tag_call(channel["id"], call_id)
            linked_id = linked_id or await self.control.get_variable(channel["id"], "CHANNEL(linkedid)") or \
                channel["id"]
            app_call = self._app_call(call_id, linked_id, channel, number, parties, self.clock())
            await self.ledger.call_started(app_call)
        except Exception:
            # Nothing is started that is not written down first (in the local journal).
            log.exception("call %s: cannot write the call down", call_id)
            await self._hand_back(channel["id"], DialStatus.APPFAILED)
            return
        flow = CallFlow(self.control, self.router, self.settings, self.ledger, channel, plan, parties.targets,
                        record, parties.organisation_ids, self.clock,
                        (Party(app_call.caller, parties.caller), Party(app_call.callee, parties.callee)),
                        self._transfers_in(parties.organisation), self._call_talking_on, self.timings)
        await self._conduct(call_id, flow, flow.run)

    @staticmethod
    def _app_call(call_id: str, linked_id: str, channel: Event, number: str, parties: Parties,
                  started_at: datetime) -> AppCall:
        caller, callee = parties.labels(channel, number)
        return AppCall(
            call_id=call_id, linked_id=linked_id,
            direction=app_direction(parties.caller is not None, parties.callee is not None, parties.from_trunk),
            caller=caller, callee=callee,
            caller_user_id=parties.caller.id if parties.caller else None,
            callee_user_id=parties.callee.id if parties.callee else None,
            organisation_ids=parties.organisation_ids, started_at=started_at)
