"""Ending: whatever happened, nothing is left behind in Asterisk. Every channel of the call still there
is hung up, the recording is closed (and kept only if the parties met), the bridge removed. Each step
may fail on its own (a party may be gone already); none stops the others."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import anyio

from asterisk_rec.callflow.phases import MET, CallPhase, Phase
from asterisk_rec.callflow.recording import RecordingState
from asterisk_rec.errors import AriError

if TYPE_CHECKING:
    from asterisk_rec.callflow.call import CallFlow

log = logging.getLogger(__name__)

# How long the end waits for Asterisk to confirm a recording closed.
RECORDING_CLOSE_SECONDS = 5


class Ending(Phase):
    kind = CallPhase.ENDING

    def __init__(self, flow: CallFlow, after: CallPhase) -> None:
        super().__init__(flow)
        # The phase the call was in when it ended.
        self.after = after
        self.deadline = anyio.current_time() + RECORDING_CLOSE_SECONDS

    def _warn(self, doing: str, err: AriError) -> None:
        log.warning("call %s: %s: %s", self.flow.record.call_id, doing, err)

    async def begin(self) -> None:
        flow = self.flow
        for channel in flow.live_channels():
            try:
                await flow.control.hangup(channel)
            except AriError as err:
                self._warn(f"hanging up {channel}", err)
        recording = flow.recording
        # A snoop's recording ends with the snoop (just hung up, with the call's other channels): asking
        # Asterisk to stop it as well would only get a 404. A bridge's must be stopped.
        if recording is not None and recording.close(flow.clock()) and flow.snoop is None:
            try:
                await flow.control.stop_recording(recording.name)
            except AriError as err:
                self._warn("closing the recording", err)

    def over(self) -> bool:
        recording = self.flow.recording
        return recording is None or recording.state is not RecordingState.CLOSING or \
            anyio.current_time() >= self.deadline

    def wait(self) -> float | None:
        return max(0.0, self.deadline - anyio.current_time())

    async def run(self) -> None:
        await super().run()
        flow = self.flow
        recording = flow.recording
        met = self.after in MET
        if recording is not None and recording.kept and not met:
            recording.discard()
            try:
                await flow.control.delete_stored_recording(recording.name)
            except AriError as err:
                self._warn("deleting the recording of nobody talking", err)
        if recording is not None and recording.asked:
            # To the archive; one that was to be discarded but could not be deleted is kept after all. One
            # Asterisk could not write has no file to fetch (the sweep takes what part of it is in the spool).
            flow.ledger.recording_finished(recording.name, keep=met and not recording.broken)
        if flow.bridge is not None:
            try:
                await flow.control.destroy_bridge(flow.bridge)
            except AriError as err:
                self._warn("removing the bridge", err)
