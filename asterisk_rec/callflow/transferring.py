"""Transferring: a party sent a blind transfer (SIP REFER, which Asterisk hands to the app with
``PJSIP_TRANSFER_HANDLING(ari-only)`` as ``ChannelTransfer``). The transferor leaves the bridge, the
transferee hears ringing while every device of the target rings (or the outside number, over the
organisation's trunk). When one answers, the two now talking are recorded if either is a recorded user
(the recording goes on in the same file: a new snoop on the transferee appends to it), and each who has
not heard the notice and now talks to a recorded user hears it first. When none answers, the parties
stay as they were if the transferor is still there; if the transferor left, their own devices ring back;
if nobody takes the call then, it ends. The transferor's phone is told each outcome (REFER progress)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import anyio

from asterisk_rec.callflow.events import Event, channel_id
from asterisk_rec.callflow.joining import PROMPT_SECONDS
from asterisk_rec.callflow.phases import CallPhase, EndReason, Phase
from asterisk_rec.callflow.recording import Recording, RecordingState
from asterisk_rec.callflow.ringing import Ringing
from asterisk_rec.callflow.transfer import (
    PROGRESS_STATES,
    Destination,
    TransferKind,
    TransferOutcome,
    TransferStep,
    outcome_of,
)
from asterisk_rec.directory.models import Direction
from asterisk_rec.errors import AsteriskRecError
from asterisk_rec.policy import DialStatus, Side, caller_status, plan_call

if TYPE_CHECKING:
    from asterisk_rec.callflow.call import CallFlow, Party

log = logging.getLogger(__name__)


class TransferFailed(Exception):
    """Nobody took the transferred call, and the transferor is gone: the call ends (``reason``: for the
    dialplan's fallback, as unanswered)."""

    def __init__(self, reason: EndReason = EndReason.TRANSFER_FAILED) -> None:
        super().__init__(reason.value)
        self.reason = reason


class Transferring(Ringing):
    kind = CallPhase.TRANSFERRING

    def __init__(self, flow: CallFlow, request: Event, number: int) -> None:
        super().__init__(flow)
        self.request = request
        self.number = number  # the call's how-manieth transfer: names its legs and tones
        self.transferor = request["referred_by"]["source_channel"]["id"]
        self.transferee = flow.answered if self.transferor == flow.caller else flow.caller
        self.before = (flow.caller, flow.answered)
        self.prior_plan = flow.plan
        self.round = 0
        self.step: TransferStep | None = None
        self.target: Destination | None = None
        self.refused = False
        self.failed = False
        self.transferor_gone = False
        # calls.unanswered_transfer = dialplan: how the ringing ended, for the dialplan's fallback.
        self.to_dialplan: DialStatus | None = None

    @property
    def _transferor(self) -> Party:
        return self.flow.party[self.transferor]

    async def _progress(self, state: str) -> None:
        await self.flow.control.transfer_progress(self.transferor, state)

    async def begin(self) -> None:
        flow = self.flow
        destination = self.request["refer_to"]["requested_destination"].get("destination")
        assert self.transferee is not None
        step = TransferStep(flow.clock(), TransferKind.BLIND, self._transferor.label,
                            flow.party[self.transferee].label, destination or "")
        flow.record.transfers.append(step)
        self.step = step
        if not destination:
            # An attended transfer (REFER with Replaces): not handled yet; the parties stay as they are.
            log.warning("call %s: a REFER naming no number: refused", flow.record.call_id)
            await self._refuse(step)
            return
        try:
            self.target = await flow.resolve_transfer(destination, self._transferor.user)
        except AsteriskRecError as err:
            log.warning("call %s: transfer to %s refused: %s", flow.record.call_id, destination, err)
            await self._refuse(step)
            return
        log.info("call %s: %s transfers %s to %s", flow.record.call_id, step.by, step.transferee, destination)
        await self._progress("channel_progress")
        await flow.suspend_recording()
        flow.caller, flow.answered = self.transferee, None
        flow.codes.clear()
        flow.departing.append(self.transferor)
        assert flow.bridge is not None
        await flow.control.remove_from_bridge(flow.bridge, self.transferor)
        self.ringing_tone = flow.object_id(f"transfer{self.number}-ring")
        flow.claim("playback", self.ringing_tone)
        await flow.control.play_on_bridge(flow.bridge, "tone:ring", self.ringing_tone)
        await self._ring_round(self.target)

    async def _refuse(self, step: TransferStep) -> None:
        step.outcome = TransferOutcome.REFUSED
        self.refused = True
        await self._progress(PROGRESS_STATES[TransferOutcome.REFUSED])

    async def _ring_round(self, target: Destination) -> None:
        self.round += 1
        self.target = target
        self.legs = {}
        await self.ring(target.targets, f"t{self.number}r{self.round}leg")
        await self._round_over()

    def over(self) -> bool:
        return self.refused or self.failed or self.flow.answered is not None

    def wait(self) -> float | None:
        if self.over() or not self._pending():
            return None
        return super().wait()

    async def on_timeout(self) -> None:
        await super().on_timeout()
        await self._round_over()

    async def on_ChannelDestroyed(self, event: Event) -> None:
        if channel_id(event) == self.transferor:
            self.transferor_gone = True
            return
        await super().on_ChannelDestroyed(event)
        await self._round_over()

    async def on_StasisEnd(self, event: Event) -> None:
        if channel_id(event) == self.transferor:
            self.transferor_gone = True

    async def on_PlaybackFinished(self, event: Event) -> None:
        """The ringing tone is one tone (it does not end by itself); nothing else plays meanwhile."""

    async def _round_over(self) -> None:
        """When every device of this round has ended unanswered: ring the transferor back if they left
        (once), else the transfer has failed."""
        if self.flow.answered is not None or self._pending() or self.over():
            return
        step = self.step
        assert step is not None
        step.outcome = outcome_of(caller_status([leg.status for leg in self.legs.values() if leg.status]))
        await self._progress(PROGRESS_STATES[step.outcome])
        transferor = self._transferor.user
        if self.transferor_gone and step.kind is TransferKind.BLIND and \
                self.flow.settings.unanswered_transfer == "dialplan" and \
                self.transferee == self.flow.record.caller_channel:
            self.to_dialplan = caller_status([leg.status for leg in self.legs.values() if leg.status])
            self.failed = True
            return
        if self.transferor_gone and step.kind is TransferKind.BLIND and transferor is not None:
            log.info("call %s: nobody took the transfer (%s): ringing %s back", self.flow.record.call_id,
                     step.outcome.value, transferor.name)
            self.step = TransferStep(self.flow.clock(), TransferKind.RING_BACK, step.by, step.transferee, step.by)
            self.flow.record.transfers.append(self.step)
            try:
                target = await self.flow.resolve_transfer(transferor.extension, transferor)
            except AsteriskRecError as err:
                log.warning("call %s: cannot ring %s back: %s", self.flow.record.call_id, transferor.name, err)
                self.step.outcome = TransferOutcome.UNAVAILABLE
                self.failed = True
                return
            await self._ring_round(target)
            return
        self.failed = True

    async def run(self) -> None:
        await Phase.run(self)
        if self.refused:
            return
        flow = self.flow
        if self.ringing_tone is not None:
            await flow.control.stop_playback(self.ringing_tone)
            self.ringing_tone = None
        if flow.answered is not None:
            assert self.target is not None
            await self._join(flow.answered, flow.new_party(flow.answered, self.target.number, self.target.user))
        elif not self.transferor_gone:
            await self._back_to_the_transferor()
        elif self.to_dialplan is not None:
            # The call was answered: only the transfer's ringing went unanswered, for the fallback to handle.
            log.info("call %s: nobody took the transferred call (%s): back to the dialplan", flow.record.call_id,
                     self.to_dialplan.value)
            await flow.control.set_variable(flow.caller, "ASTERISK_REC_DIALSTATUS", self.to_dialplan.value)
            await flow.control.continue_in_dialplan(flow.caller)
            raise TransferFailed(EndReason.UNANSWERED)
        else:
            log.info("call %s: nobody took the transferred call: it ends", flow.record.call_id)
            raise TransferFailed

    async def _join(self, leg: str, answered: Party) -> None:
        """The transferee and the party on ``leg`` meet: notices first, then the recording, then the bridge."""
        flow = self.flow
        step = self.step
        assert step is not None and flow.bridge is not None
        step.outcome, step.answered_at = TransferOutcome.ANSWERED, flow.clock()
        if step.kind is TransferKind.BLIND:
            await self._progress(PROGRESS_STATES[TransferOutcome.ANSWERED])
        transferee = flow.party[flow.caller]
        # The transferee keeps its own direction: an original caller still makes the call, a callee still
        # takes one; the target takes it.
        direction = Direction.OUTGOING if flow.caller == flow.record.caller_channel else Direction.INCOMING
        plan = plan_call(transferee.user, answered.user, caller_direction=direction)
        flow.plan = plan
        await self._notices(transferee, answered, leg)
        recording = flow.recording
        # On demand: a recording a user switched on goes on while that user is still in the call (paused,
        # if they paused it).
        carried = recording is not None and recording.suspended_from is not None and \
            any(user in self.prior_plan.on_demand for user in plan.on_demand)
        if plan.records or carried:
            recording = flow.planned_recording()
            assert recording is not None
            await self._resume(recording)
        elif recording is not None:
            recording.settle(flow.clock())
        flow.watch_codes()
        await flow.join_bridge(leg)
        await flow.wait_for("ChannelEnteredBridge", leg)
        log.info("call %s: transferred to %s%s", flow.record.call_id, answered.label,
                 ", recording" if flow.recording is not None and flow.recording.is_open else "")

    async def _resume(self, recording: Recording) -> None:
        """Records again (into the same file, if there is one); one the user had paused stays suspended
        until the user's code resumes it (Talking), nobody else recording it."""
        flow = self.flow
        if recording.suspended_from is RecordingState.PAUSED_BY_USER and not flow.plan.records:
            return
        await flow.start_recording(recording, append=recording.asked)
        recording.suspended_from = None
        # A transferor taken back while their phone still holds the call: paused until it unholds.
        await flow.apply(recording.hold_changed(flow.held_now(), flow.clock()))

    async def _notices(self, transferee: Party, answered: Party, leg: str) -> None:
        """The notice, at once, to each who has not heard it and now talks to a recorded user."""
        flow = self.flow
        assert flow.bridge is not None
        playing: set[str] = set()
        for notice in flow.plan.notices:
            party = transferee if notice.to is Side.CALLER else answered
            if party.heard_notice:
                continue
            media = f"sound:{flow.settings.notice_sound}"
            name = f"notice-transfer{self.number}-{notice.to.value}"
            if notice.to is Side.CALLER:
                # Alone in the bridge meanwhile: played into it, the transferee hears it without leaving it.
                playback = flow.object_id(name)
                flow.claim("playback", playback)
                await flow.control.play_on_bridge(flow.bridge, media, playback, notice.language)
            else:
                playback = await flow.play(leg, media, name, notice.language)
            party.heard_notice = True
            playing.add(playback)
        deadline = anyio.current_time() + PROMPT_SECONDS
        while playing and (remaining := deadline - anyio.current_time()) > 0:
            event = await flow.next_event(remaining)
            if event is not None and event["type"] == "PlaybackFinished":
                playing.discard(event["playback"]["id"])

    async def _back_to_the_transferor(self) -> None:
        """The transfer failed while the transferor waited: the parties talk again as before, and the
        recording goes on as it was."""
        flow = self.flow
        assert flow.bridge is not None
        flow.caller, answered = self.before
        assert answered is not None
        flow.answered = answered
        flow.departing.remove(self.transferor)
        recording = flow.recording
        if recording is not None and recording.suspended_from is not None:
            # Before the transferor is back: nothing they say then is missing.
            await self._resume(recording)
        flow.watch_codes()
        await flow.join_bridge(self.transferor)
        log.info("call %s: the transfer failed: back to %s", flow.record.call_id, self._transferor.label)
