"""Talking: the parties are in the bridge. Hold pauses the recording and unhold resumes it; the feature
code of a party whose code means something starts the recording (on demand), pauses or resumes it. The
phase lasts until a party hangs up."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import anyio

from asterisk_rec.callflow.events import Event, channel_id, event_time
from asterisk_rec.callflow.feature_code import KeyPresses, PassOn
from asterisk_rec.callflow.phases import CallPhase, Phase
from asterisk_rec.callflow.recording import Recording, RecordingState
from asterisk_rec.directory.models import User
from asterisk_rec.policy import CodeAction, feature_code_action
from asterisk_rec.recording.naming import recording_name

if TYPE_CHECKING:
    from asterisk_rec.callflow.call import CallFlow

log = logging.getLogger(__name__)

# Two short beeps, once: the feature code cannot stop a recording that is always on.
REFUSAL_TONE = "tone:!425/150,!0/100,!425/150"
# Kept on the caller's channel for a restarted service adopting the call: whether the user paused it.
PAUSED_VARIABLE = "ASTERISK_REC_PAUSED"


class Talking(Phase):
    kind = CallPhase.TALKING

    def __init__(self, flow: CallFlow) -> None:
        super().__init__(flow)
        self.presses: dict[str, KeyPresses] = {}
        # A party's transfer (Asterisk's ChannelTransfer): the call goes on in Transferring.
        self.transfer: Event | None = None
        # An attended transfer in another call took this call's party (``CallFlow.hand_over``): it ends.
        self.handed_over = False

    def over(self) -> bool:
        return self.transfer is not None or self.handed_over

    async def on_ChannelTransfer(self, event: Event) -> None:
        # A REFER's own event has no state; those with one echo the progress the app reported.
        if "state" not in event and event.get("referred_by", {}).get("source_channel", {}).get("id") in (
                self.flow.caller, self.flow.answered):
            self.transfer = event

    async def on_HandedOver(self, event: Event) -> None:
        self.handed_over = True

    def _party(self, event: Event) -> str | None:
        channel = channel_id(event)
        return channel if channel in (self.flow.caller, self.flow.answered) else None

    def wait(self) -> float | None:
        deadlines = [matcher.deadline for matcher, _ in self.flow.codes.values() if matcher.deadline is not None]
        return max(0.0, min(deadlines) - anyio.current_time()) if deadlines else None

    async def on_timeout(self) -> None:
        for channel, (matcher, _) in self.flow.codes.items():
            for action in matcher.expire(anyio.current_time()):
                if isinstance(action, PassOn):
                    await self._pass_on(channel, action)

    async def on_PlaybackFinished(self, event: Event) -> None:
        if event["playback"]["id"] == self.flow.object_id("notice-bridge"):
            self.flow.record.notice_finished_at = self.flow.when(event)

    async def on_ChannelHold(self, event: Event) -> None:
        if self._party(event) is not None:
            await self._hold_changed()

    async def on_ChannelUnhold(self, event: Event) -> None:
        if self._party(event) is not None:
            await self._hold_changed()

    async def _hold_changed(self) -> None:
        # ``flow.on_hold`` is kept by ``CallFlow.next_event``.
        recording = self.flow.recording
        if recording is not None:
            await self.flow.apply(recording.hold_changed(self.flow.held_now(), self.flow.clock()))

    async def on_ChannelDtmfReceived(self, event: Event) -> None:
        """A digit of a party whose code means something (the bridge absorbed it): the code acts, anything
        else goes on to the other party. Other parties' digits pass through the bridge by themselves."""
        party = self._party(event)
        if party is None or (party not in self.flow.codes and party not in self.flow.absorbing):
            return
        digit, duration_ms, ended = event["digit"], int(event.get("duration_ms", 0)), event_time(event)
        at = anyio.current_time()
        presses = self.presses.setdefault(party, KeyPresses())
        if not presses.is_new(digit, duration_ms, time.time() if ended is None else ended):
            return
        entry = self.flow.codes.get(party)
        if entry is None:
            # Absorbed for a code that means nothing since a transfer changed the call: on it goes.
            await self._pass_on(party, PassOn(digit))
            return
        matcher, user = entry
        for action in matcher.press(digit, at):
            if isinstance(action, PassOn):
                await self._pass_on(party, action)
            else:
                await self._on_code(user)
                self.flow.timings.feature_code.observe(anyio.current_time() - at)

    async def _pass_on(self, channel: str, action: PassOn) -> None:
        other = self.flow.answered if channel == self.flow.caller else self.flow.caller
        if other is not None:
            await self.flow.control.send_dtmf(other, action.digits)

    async def _on_code(self, user: User) -> None:
        flow = self.flow
        assert flow.bridge is not None
        log.info("call %s: %s dialled the feature code", flow.record.call_id, user.name)
        if feature_code_action(flow.plan) is CodeAction.REFUSE:
            await flow.control.play_on_bridge(flow.bridge, REFUSAL_TONE,
                                              flow.object_id(f"refused-{flow.clock():%H%M%S%f}"))
            return
        recording = flow.recording
        if recording is None:
            started = flow.clock()
            recording = Recording(recording_name(user.organisation.id, flow.record.call_id, started),
                                  user.organisation.id, flow.record.call_id)
            await flow.start_recording(recording)
            if recording.is_open:
                # Both parties hear it, and the file begins with it.
                for channel in (flow.caller, flow.answered):
                    if channel is not None:
                        flow.party[channel].heard_notice = True
                playback = flow.object_id("notice-bridge")
                flow.claim("playback", playback)
                await flow.control.play_on_bridge(flow.bridge, f"sound:{flow.settings.notice_sound}", playback,
                                                  user.language)
            return
        if recording.state is RecordingState.MOVING:
            # Paused by the user before a transfer: the code resumes it, appended to its file.
            await flow.start_recording(recording, append=True)
            recording.suspended_from = None
            return
        await flow.apply(recording.toggled_by_user(flow.held_now(), flow.clock()))
        if recording.is_open:
            # For a restarted service adopting the call.
            paused = recording.state is RecordingState.PAUSED_BY_USER
            await flow.control.set_variable(flow.caller, PAUSED_VARIABLE, "1" if paused else "")
