"""Attended transferring: a party held the call, consulted someone in a call of their own (the
consultation: a call like any other, recorded or not by the usual policy, notice included) and sent a
REFER with Replaces naming the consultation's dialog (Asterisk hands it to the app as ``ChannelTransfer``
with the consultation's channels resolved). The consulted party moves into this call and meets the
transferee as after a blind transfer (a notice first to whoever now talks to a recorded user and has not
heard one, then the recording, then the bridge); the consultation call ends, and the transferor leaves
both. If the consultation is not a talking call of the app's, nothing moves: the transfer is refused and
the parties stay as they were (the transferor's phone takes the held call back)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from asterisk_rec.callflow.events import Event
from asterisk_rec.callflow.phases import Phase
from asterisk_rec.callflow.ringing import Leg
from asterisk_rec.callflow.transfer import (
    PROGRESS_STATES,
    TransferKind,
    TransferOutcome,
    TransferStep,
    replaced_channel,
)
from asterisk_rec.callflow.transferring import Transferring
from asterisk_rec.policy import DialStatus, DialTarget

if TYPE_CHECKING:
    from asterisk_rec.callflow.call import CallFlow, Party

log = logging.getLogger(__name__)


class AttendedTransferring(Transferring):
    def __init__(self, flow: CallFlow, request: Event, number: int) -> None:
        super().__init__(flow, request, number)
        self.joining: tuple[str, Party] | None = None

    async def begin(self) -> None:
        flow = self.flow
        assert self.transferee is not None and flow.bridge is not None
        # Until the consulted party is known, the number the REFER names.
        number = (self.request.get("refer_to") or {}).get("requested_destination", {}).get("destination", "")
        step = TransferStep(flow.clock(), TransferKind.ATTENDED, self._transferor.label,
                            flow.party[self.transferee].label, number)
        flow.record.transfers.append(step)
        self.step = step
        replaced = replaced_channel(self.request)
        consultation = flow.find_call(replaced) if replaced is not None else None
        taken = None
        if replaced is not None and consultation is not None and consultation is not flow:
            taken = consultation.hand_over(replaced, flow.record.call_id)
        if consultation is None or taken is None:
            log.warning("call %s: an attended transfer naming no talking call of the app's (%s): refused",
                        flow.record.call_id, replaced)
            await self._refuse(step)
            return
        leg, party, bridge = taken
        step.target, step.consultation = party.label, consultation.record.call_id
        log.info("call %s: %s transfers %s to %s, consulted in call %s", flow.record.call_id, step.by,
                 step.transferee, party.label, step.consultation)
        await flow.suspend_recording()
        flow.caller, flow.answered = self.transferee, None
        flow.codes.clear()
        flow.departing.append(self.transferor)
        await flow.control.remove_from_bridge(flow.bridge, self.transferor)
        flow.claim("channel", leg)
        flow.legs[leg] = Leg(leg, DialTarget(leg, None, 0), 0.0, status=DialStatus.ANSWER)
        flow.party[leg] = party
        if bridge is not None:
            # Out of the consultation's bridge before anything: nobody hears anyone before the notices.
            await flow.control.remove_from_bridge(bridge, leg)
        # Its CDRs from now on are this call's.
        await flow.control.tag_call(leg, flow.record.call_id)
        self.joining = (leg, party)

    def over(self) -> bool:
        return True

    async def run(self) -> None:
        await Phase.run(self)
        if self.joining is None:
            return
        leg, party = self.joining
        self.flow.answered = leg
        await self._join(leg, party)
        await self._progress(PROGRESS_STATES[TransferOutcome.ANSWERED])
