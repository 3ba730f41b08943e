"""A call originated over ARI reaches a Stasis app, is bridged and recorded by Asterisk, and the
recording fetched back over ARI holds the tone the far end played."""

from __future__ import annotations

import uuid
from pathlib import Path

import anyio
import pytest

from asterisk_rec.adapters.ari import AriConnection
from asterisk_rec.config import Settings
from asterisk_rec.testing.ari_events import EventLog
from asterisk_rec.testing.tones import read_wav, tone_coverage

pytestmark = pytest.mark.anyio

TONE_HZ = 1000


async def test_bridged_call_is_recorded_and_fetched(settings: Settings, tmp_path: Path) -> None:
    """The recording of a Local channel playing 1000 Hz holds that tone in at least 95 % of its 100 ms windows."""
    app = f"test-rec-{uuid.uuid4().hex[:8]}"
    channel_id, bridge_id = f"{app}-chan", f"{app}-bridge"
    name = f"lab-test/{app}"
    async with AriConnection(settings.ari, app=app) as ari:
        client, events = ari.client, EventLog(ari.client)
        await client.channels.originate(endpoint=f"Local/{TONE_HZ}@lab-tones", app=app,
                                        channelId=channel_id, formats="slin")
        await events.wait_for("StasisStart", lambda e: e.channel.id == channel_id)

        bridge = await client.bridges.create(type="mixing", bridgeId=bridge_id)
        await bridge.addChannel(channel=channel_id)
        await events.wait_for("ChannelEnteredBridge", lambda e: e.channel.id == channel_id)
        await bridge.record(name=name, format="wav", ifExists="overwrite")
        await events.wait_for("RecordingStarted", lambda e: e.recording.name == name)
        await anyio.sleep(3)
        await client.recordings.stop(recordingName=name)
        await events.wait_for("RecordingFinished", lambda e: e.recording.name == name)

        await client.channels.hangup(channelId=channel_id)
        await client.bridges.destroy(bridgeId=bridge_id)

        target = tmp_path / "call.wav"
        size = await ari.rest.download_stored_recording(name, target)
        await ari.rest.request("DELETE", f"recordings/stored/{name.replace('/', '%2F')}")

    assert size == target.stat().st_size > 0
    audio = read_wav(target)
    assert audio.seconds >= 2.5, audio.seconds
    coverage = tone_coverage(audio, TONE_HZ)
    assert coverage >= 0.95, f"the tone fills only {coverage:.1%} of the 100 ms windows"
