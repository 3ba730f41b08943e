"""The call flow's commands to Asterisk, by ARI's operation names (``channels.answer``): the only module
that calls ARI for the flow. Commands on objects that are already gone (404) are not errors: a party may hang up
at any moment."""

from __future__ import annotations

import logging
from typing import Any, Protocol

from asterisk_rec.callflow.trace import AriTrace
from asterisk_rec.errors import AriCommandFailed, AriConnectionLost, AriError

log = logging.getLogger(__name__)


# The CDR variable carrying the app's call id; its AMI header and CSV column are set up by provision.sh.
CALL_ID_CDR_VARIABLE = "CDR(asterisk_rec_call)"
# Set on the channels the app creates (the dialplan sets it on callers): REFERs come to the app.
TRANSFER_TO_THE_APP = {"PJSIP_TRANSFER_HANDLING()": "ari-only"}


class AriCommands(Protocol):
    """The connection as the flow sees it (``adapters.ari.AriClient``; a replayed trace in the tests)."""

    async def call(self, name: str, /, **params: Any) -> Any: ...


class CallControl:
    """``client`` is replaced when the app reconnects; calls keep their CallControl."""

    def __init__(self, client: AriCommands | None, app: str, trace: AriTrace | None = None) -> None:
        self.client = client
        self.app = app
        self.trace = trace

    async def _op(self, repository: str, operation: str, *, gone_ok: bool = False,
                  gone_statuses: tuple[int, ...] = (404, 409), **params: Any) -> Any:
        trace = self.trace
        name = f"{repository}.{operation}"
        traced = trace.command(name, params) if trace else 0
        try:
            if self.client is None:
                raise AriConnectionLost("not connected to Asterisk yet")
            result = await self.client.call(name, **params)
        except AriCommandFailed as err:
            if trace:
                trace.answer(traced, status=err.status, error=err.text)
            if gone_ok and err.status in gone_statuses:
                log.debug("%s: already gone (%s)", name, err.status)
                return None
            raise AriError(f"ARI {name} failed ({err.status}): {err.text}") from err
        except AriConnectionLost as err:
            if trace:
                trace.answer(traced, error=f"no connection: {err.message}")
            # The connection is down (the app reconnects and reconciles): the command may not have happened.
            raise AriError(f"ARI {name}: no connection to Asterisk ({err.message})") from err
        if trace:
            trace.answer(traced, result)
        return result

    # Channels

    async def answer(self, channel: str) -> None:
        await self._op("channels", "answer", channelId=channel)

    async def ring(self, channel: str) -> None:
        await self._op("channels", "ring", channelId=channel, gone_ok=True)

    async def hangup(self, channel: str, reason: str = "normal") -> None:
        await self._op("channels", "hangup", channelId=channel, reason=reason, gone_ok=True)

    async def create_leg(self, leg: str, endpoint: str, originator: str, call_id: str,
                         transfers_to_the_app: bool = True) -> None:
        """``transfers_to_the_app``: a REFER from the leg's phone comes to the app (ChannelTransfer), not
        to Asterisk's own transfer handling, which would take the party out of the app's bridge and end
        the recording."""
        variables: dict[str, Any] = {"variables": TRANSFER_TO_THE_APP} if transfers_to_the_app else {}
        await self._op("channels", "create", endpoint=endpoint, app=self.app, appArgs=f"leg,{call_id}",
                       channelId=leg, originator=originator, **variables)

    async def transfer_progress(self, channel: str, state: str) -> None:
        """Tells the transferor's phone how its transfer goes (a NOTIFY, if it asked for them)."""
        await self._op("channels", "transfer_progress", channelId=channel, states=state, gone_ok=True)

    async def dial(self, leg: str, caller: str) -> None:
        await self._op("channels", "dial", channelId=leg, caller=caller)

    async def set_variable(self, channel: str, name: str, value: str) -> None:
        await self._op("channels", "setChannelVar", channelId=channel, variable=name, value=value, gone_ok=True)

    async def tag_call(self, channel: str, call_id: str) -> None:
        """Puts the call id in the channel's CDR (cdr_manager maps it to AsteriskRecCall): the call row is
        linked to its recording by it."""
        await self.set_variable(channel, CALL_ID_CDR_VARIABLE, call_id)

    async def continue_in_dialplan(self, channel: str) -> None:
        await self._op("channels", "continueInDialplan", channelId=channel, gone_ok=True)

    async def play(self, channel: str, media: str, playback: str, language: str | None = None) -> None:
        params: dict[str, Any] = {"lang": language} if language else {}
        await self._op("channels", "playWithId", channelId=channel, playbackId=playback, media=media, **params)

    async def stop_playback(self, playback: str) -> None:
        await self._op("playbacks", "stop", playbackId=playback, gone_ok=True)

    async def snoop(self, channel: str, snoop: str) -> None:
        """A channel that hears both directions of ``channel``, for recording it without touching the bridge."""
        await self._op("channels", "snoopChannelWithId", channelId=channel, snoopId=snoop, app=self.app,
                       spy="both", appArgs="snoop")

    async def record(self, channel: str, name: str, audio_format: str, append: bool = False) -> None:
        """``append``: go on with the file of that name (a recording moved by a transfer)."""
        await self._op("channels", "record", channelId=channel, name=name, format=audio_format,
                       ifExists="append" if append else "fail")

    async def record_bridge(self, bridge: str, name: str, audio_format: str, append: bool = False) -> None:
        await self._op("bridges", "record", bridgeId=bridge, name=name, format=audio_format,
                       ifExists="append" if append else "fail")

    async def get_variable(self, channel: str, name: str) -> str | None:
        result = await self._op("channels", "getChannelVar", channelId=channel, variable=name, gone_ok=True)
        return None if result is None else str(result.get("value", "")) if isinstance(result, dict) else None

    async def channels(self) -> list[dict[str, Any]]:
        return list(await self._op("channels", "list") or [])

    async def bridges(self) -> list[dict[str, Any]]:
        return list(await self._op("bridges", "list") or [])

    # Bridges

    async def create_bridge(self, bridge: str) -> None:
        # dtmf_events keeps DTMF visible to the app (for the on-demand feature code) without forcing mixing.
        await self._op("bridges", "create", bridgeId=bridge, type="mixing,dtmf_events")

    async def add_to_bridge(self, bridge: str, channel: str, absorb_dtmf: bool = False) -> None:
        """With ``absorb_dtmf`` the channel's digits reach only the app (which passes on what is not the
        feature code), not the other party."""
        await self._op("bridges", "addChannel", bridgeId=bridge, channel=channel,
                       absorbDTMF="true" if absorb_dtmf else "false")

    async def remove_from_bridge(self, bridge: str, channel: str) -> None:
        # A channel already gone is "not found" (400) here, one that left the bridge "not in it" (422).
        await self._op("bridges", "removeChannel", bridgeId=bridge, channel=channel, gone_ok=True,
                       gone_statuses=(400, 404, 409, 422))

    async def play_on_bridge(self, bridge: str, media: str, playback: str, language: str | None = None) -> None:
        """Everyone in the bridge hears it (and so does a recording of the bridge or of a party's snoop)."""
        params: dict[str, Any] = {"lang": language} if language else {}
        await self._op("bridges", "playWithId", bridgeId=bridge, playbackId=playback, media=media, **params)

    async def send_dtmf(self, channel: str, digits: str) -> None:
        await self._op("channels", "sendDTMF", channelId=channel, dtmf=digits, gone_ok=True)

    async def destroy_bridge(self, bridge: str) -> None:
        await self._op("bridges", "destroy", bridgeId=bridge, gone_ok=True)

    # Recordings

    async def stop_recording(self, name: str) -> None:
        await self._op("recordings", "stop", recordingName=name, gone_ok=True)

    async def pause_recording(self, name: str) -> None:
        await self._op("recordings", "pause", recordingName=name, gone_ok=True)

    async def unpause_recording(self, name: str) -> None:
        await self._op("recordings", "unpause", recordingName=name, gone_ok=True)

    async def delete_stored_recording(self, name: str) -> None:
        await self._op("recordings", "deleteStored", recordingName=name, gone_ok=True)
