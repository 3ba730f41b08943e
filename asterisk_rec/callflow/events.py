"""ARI events as the call flow sees them: plain JSON, and the ids that tie an event to a call (pure)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

Event = dict[str, Any]


def event_keys(event: Event) -> set[str]:
    """The ids of every object an event is about: channels, bridge, playback, recording (and the
    channels of a transfer)."""
    keys: set[str] = set()
    for field in ("channel", "peer", "caller", "replace_channel"):
        obj = event.get(field)
        if isinstance(obj, dict) and obj.get("id"):
            keys.add(f"channel:{obj['id']}")
    for field, prefix, id_field in (("bridge", "bridge", "id"), ("playback", "playback", "id"),
                                    ("recording", "recording", "name")):
        obj = event.get(field)
        if isinstance(obj, dict) and obj.get(id_field):
            keys.add(f"{prefix}:{obj[id_field]}")
    # ChannelTransfer: the channel the REFER came in on, and (attended) the one it would replace.
    for side in ("referred_by", "refer_to"):
        for field in ("source_channel", "destination_channel", "connected_channel"):
            obj = (event.get(side) or {}).get(field)
            if isinstance(obj, dict) and obj.get("id"):
                keys.add(f"channel:{obj['id']}")
    return keys


def channel_id(event: Event, field: str = "channel") -> str | None:
    obj = event.get(field)
    return obj.get("id") if isinstance(obj, dict) else None


def event_time(event: Event) -> float | None:
    """When Asterisk raised the event (POSIX seconds), from its ``timestamp``; None if it has none."""
    try:
        # Asterisk's form, 2026-12-02T04:39:41.473+0000 (fromisoformat: a 70th of strptime's CPU).
        when = datetime.fromisoformat(event["timestamp"])
    except (KeyError, TypeError, ValueError):
        return None
    return when.timestamp() if when.tzinfo is not None else None


# Events after which a channel can take no further part in the call.
GONE = {"StasisEnd", "ChannelDestroyed", "ChannelHangupRequest"}


# Every event type the call flow acts on (its phases' ``on_*`` handlers, ``wait_for``, GONE, the
# recording's end): Asterisk is asked to send the app only these.
USED = ("StasisStart", "StasisEnd", "ChannelDestroyed", "ChannelHangupRequest", "ChannelStateChange",
        "ChannelEnteredBridge", "ChannelDtmfReceived", "ChannelHold", "ChannelUnhold", "ChannelTransfer",
        "PlaybackFinished", "RecordingStarted", "RecordingFinished", "RecordingFailed")
