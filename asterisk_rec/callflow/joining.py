"""Joining: the device that answered meets the caller. If the caller is recorded, the callee first hears
the notice; the recording (a snoop on the caller, which hears both directions) runs before the callee
enters the bridge, so nothing either says after meeting is missing from it. A series of steps, each
waiting for the one event that says it happened."""

from __future__ import annotations

import logging

from asterisk_rec.callflow.phases import CallPhase, Phase
from asterisk_rec.policy import DialStatus, Side

log = logging.getLogger(__name__)

# The longest prompt the app plays.
PROMPT_SECONDS = 60


class Joining(Phase):
    kind = CallPhase.JOINING

    def over(self) -> bool:
        return True

    async def begin(self) -> None:
        flow = self.flow
        answered = flow.answered
        assert answered is not None
        flow.record.outcome = DialStatus.ANSWER
        flow.party[answered] = flow.callee
        notice = flow.notice_to(Side.CALLEE)
        if notice is not None:
            playback = await flow.play(answered, f"sound:{flow.settings.notice_sound}", "notice-callee",
                                       notice.language)
            flow.party[answered].heard_notice = True
            finished = await flow.wait_for("PlaybackFinished", playback, field="playback", within=PROMPT_SECONDS)
            flow.record.notice_finished_at = flow.when(finished)
        if not flow.caller_answered:
            await flow.control.answer(flow.caller)
        if answered in flow.to_answer:
            await flow.control.answer(answered)
        flow.bridge = flow.object_id("bridge")
        flow.claim("bridge", flow.bridge)
        await flow.control.create_bridge(flow.bridge)
        flow.watch_codes()
        await flow.join_bridge(flow.caller)
        recording = flow.planned_recording()
        if recording is not None:
            await flow.start_recording(recording)
        await flow.join_bridge(answered)
        flow.record.joined_at = flow.when(await flow.wait_for("ChannelEnteredBridge", answered))
        log.info("call %s: connected%s", flow.record.call_id,
                 ", recording" if flow.recording is not None and flow.recording.is_open else "")
