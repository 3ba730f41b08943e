"""Ringing: the callee's devices ring at once; if the callee is recorded, the caller hears the notice as
early media meanwhile (not answered: no charge, and busy or no answer can still be signalled), then
ringing. It ends when a device answered and the notice is over, or when no device can answer any more
(the caller then goes back to the dialplan with ASTERISK_REC_DIALSTATUS)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio

from asterisk_rec.callflow.events import Event, channel_id
from asterisk_rec.callflow.phases import CallPhase, Phase
from asterisk_rec.callflow.transfer import TransferKind, TransferOutcome, TransferStep, outcome_of
from asterisk_rec.directory.models import ForwardWhen
from asterisk_rec.errors import AriError, AsteriskRecError
from asterisk_rec.policy import DialStatus, DialTarget, Side, caller_status, leg_status, plan_forwarded

if TYPE_CHECKING:
    from asterisk_rec.callflow.call import CallFlow

log = logging.getLogger(__name__)


@dataclass
class Leg:
    id: str
    target: DialTarget
    deadline: float
    rang: bool = False
    # None while it rings.
    status: DialStatus | None = None
    destroyed: bool = False


class Ringing(Phase):
    kind = CallPhase.RINGING

    def __init__(self, flow: CallFlow) -> None:
        super().__init__(flow)
        # The caller's notice while it plays, then the ringing tone the caller hears until an answer.
        self.notice_playing: str | None = None
        self.ringing_tone: str | None = None
        # This ringing's legs (a transfer rings more later; the call keeps them all in ``flow.legs``).
        self.legs: dict[str, Leg] = {}
        # The callee's forwarding, once followed (once: a colleague's own forwarding is not followed).
        self.forward: TransferStep | None = None

    @property
    def answered(self) -> str | None:
        return self.flow.answered

    def _pending(self) -> list[Leg]:
        return [leg for leg in self.legs.values() if leg.status is None]

    async def begin(self) -> None:
        flow = self.flow
        notice = flow.notice_to(Side.CALLER)
        if notice is not None:
            self.notice_playing = await flow.play(flow.caller, f"sound:{flow.settings.notice_sound}",
                                                  "notice-caller", notice.language)
            flow.party[flow.caller].heard_notice = True
        else:
            await flow.control.ring(flow.caller)
        if not await self._forwarded(ForwardWhen.ALWAYS):
            await self.ring(flow.targets, "leg")

    async def ring(self, targets: tuple[DialTarget, ...], prefix: str) -> None:
        """A leg for each target, with the caller as its originator (one LinkedID, the same formats)."""
        flow = self.flow
        for index, target in enumerate(targets):
            leg = Leg(flow.object_id(f"{prefix}{index}"), target, anyio.current_time() + target.ring_seconds)
            flow.claim("channel", leg.id)
            flow.legs[leg.id] = leg
            self.legs[leg.id] = leg
            try:
                # It is dialled once it is in the app (its StasisStart): a dial before that gets 409.
                await flow.control.create_leg(leg.id, target.endpoint, flow.caller, flow.record.call_id,
                                              flow.settings.transfers == "app")
            except AriError as err:
                await self._unreachable(leg, err)

    def over(self) -> bool:
        if self.answered is None:
            return not self._pending()
        return self.notice_playing is None

    def wait(self) -> float | None:
        if self.answered is not None:
            return None
        return max(0.0, min(leg.deadline for leg in self._pending()) - anyio.current_time())

    async def run(self) -> None:
        await super().run()
        while self.answered is None:
            status = caller_status([leg.status for leg in self.legs.values() if leg.status is not None])
            if self.forward is not None:
                self.forward.outcome = outcome_of(status)
            when = {DialStatus.BUSY: ForwardWhen.BUSY, DialStatus.NOANSWER: ForwardWhen.NO_ANSWER}.get(status)
            if when is None or not await self._forwarded(when):
                await self.flow.back_to_dialplan(status)
                return
            await self.loop()
        if self.forward is not None:
            self.forward.outcome, self.forward.answered_at = TransferOutcome.ANSWERED, self.flow.clock()
        if self.ringing_tone is not None:
            await self.flow.control.stop_playback(self.ringing_tone)

    async def _forwarded(self, when: ForwardWhen) -> bool:
        """The callee forwards calls ``when``: the destination rings instead (once), the plan becomes the
        forwarded call's, and a caller who has not heard the notice and now may be recorded hears it."""
        flow = self.flow
        callee = flow.callee.user
        destination = callee.forwarding.to(when) if callee is not None else None
        if callee is None or destination is None or self.forward is not None:
            return False
        try:
            target = await flow.resolve_transfer(destination, callee)
        except AsteriskRecError as err:
            log.warning("call %s: cannot forward to %s: %s", flow.record.call_id, destination, err)
            return False
        log.info("call %s: %s forwards (%s) to %s", flow.record.call_id, callee.name, when.value, destination)
        self.forward = TransferStep(flow.clock(), TransferKind(f"forward_{when.value}"), callee.extension,
                                    flow.party[flow.caller].label, destination)
        flow.record.transfers.append(self.forward)
        flow.plan = plan_forwarded(flow.party[flow.caller].user, callee, target.user)
        flow.forwarded_to(target.number, target.user)
        notice = flow.notice_to(Side.CALLER)
        if notice is not None and not flow.party[flow.caller].heard_notice:
            if self.ringing_tone is not None:
                await flow.control.stop_playback(self.ringing_tone)
                self.ringing_tone = None
            self.notice_playing = await flow.play(flow.caller, f"sound:{flow.settings.notice_sound}",
                                                  "notice-caller-forwarded", notice.language)
            flow.party[flow.caller].heard_notice = True
        self.legs = {}
        await self.ring(target.targets, "fwd")
        return True

    async def on_timeout(self) -> None:
        for leg in self._pending():
            if leg.deadline <= anyio.current_time():
                leg.status = DialStatus.NOANSWER
                await self.flow.control.hangup(leg.id, "no_answer")

    async def on_PlaybackFinished(self, event: Event) -> None:
        if event["playback"]["id"] != self.notice_playing:
            return
        self.notice_playing = None
        self.flow.record.notice_finished_at = self.flow.when(event)
        if self.answered is None:
            self.ringing_tone = await self.flow.play(self.flow.caller, "tone:ring",
                                                     "ringing" if self.forward is None else "ringing-forwarded")

    async def on_PickupRequested(self, event: Event) -> None:
        """A user's pickup code: their channel answers the call, the ringing devices stop; both the
        callee's and the picker's policies apply; the chain says who answered."""
        flow, channel, picker = self.flow, event["channel"]["id"], event["picker"]
        if self.answered is not None or (self.forward is not None and self.forward.outcome is not None):
            log.info("call %s: picked up by %s too late: answered already", flow.record.call_id, picker.name)
            await flow.control.set_variable(channel, "ASTERISK_REC_DIALSTATUS", DialStatus.CHANUNAVAIL.value)
            await flow.control.continue_in_dialplan(channel)
            return
        log.info("call %s: picked up by %s", flow.record.call_id, picker.name)
        # Its own CDR would make a second call row: the call's CDRs have it as the answering party.
        await flow.control.set_variable(channel, "CDR_PROP(disable)", "1")
        await flow.control.tag_call(channel, flow.record.call_id)
        flow.legs[channel] = Leg(channel, DialTarget(event["channel"]["name"], None, 0), 0.0,
                                 status=DialStatus.ANSWER)
        flow.to_answer.add(channel)
        flow.answered = channel
        for other in self._pending():
            other.status = DialStatus.CANCEL
            await flow.control.hangup(other.id, "answered_elsewhere")
        callee = flow.callee.user
        flow.record.transfers.append(TransferStep(flow.clock(), TransferKind.PICKUP, picker.extension,
                                                  flow.party[flow.caller].label, flow.callee.label,
                                                  TransferOutcome.ANSWERED, flow.clock()))
        if callee is not None:
            flow.plan = plan_forwarded(flow.party[flow.caller].user, callee, picker)
        flow.forwarded_to(picker.extension, picker)

    def _leg(self, event: Event) -> Leg | None:
        return self.legs.get(channel_id(event) or "")

    async def on_StasisStart(self, event: Event) -> None:
        leg = self._leg(event)
        if leg is None or leg.status is not None:
            return
        try:
            await self.flow.control.tag_call(leg.id, self.flow.record.call_id)
            await self.flow.control.dial(leg.id, self.flow.caller)
        except AriError as err:
            await self._unreachable(leg, err)

    async def on_ChannelStateChange(self, event: Event) -> None:
        leg = self._leg(event)
        if leg is None:
            return
        state = event["channel"]["state"]
        if state == "Ringing":
            leg.rang = True
        elif state == "Up" and self.answered is None and leg.status is None:
            self.flow.answered = leg.id
            leg.status = DialStatus.ANSWER
            for other in self._pending():
                other.status = DialStatus.CANCEL
                await self.flow.control.hangup(other.id, "answered_elsewhere")

    async def on_ChannelDestroyed(self, event: Event) -> None:
        leg = self._leg(event)
        if leg is None:
            return
        leg.destroyed = True
        if leg.status is None:
            leg.status = leg_status(int(event.get("cause", 0)), leg.rang)

    async def _unreachable(self, leg: Leg, err: AriError) -> None:
        log.warning("call %s: cannot ring %s: %s", self.flow.record.call_id, leg.target.endpoint, err)
        leg.status = DialStatus.CHANUNAVAIL
        await self.flow.control.hangup(leg.id)
