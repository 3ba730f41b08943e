"""The Stasis app's own ARI client on the lab's Asterisk 22: its commands go over the WebSocket (and answer
the same over HTTP, for an Asterisk too old for that), its errors carry Asterisk's status and words, and a
closed connection says so instead of hanging."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from asterisk_rec.adapters.ari import AriConnection
from asterisk_rec.config import Secret, Settings
from asterisk_rec.errors import AriCommandFailed, AriConnectionLost, AriCredentialsRejected
from asterisk_rec.testing.ari_events import EventLog

pytestmark = pytest.mark.anyio


async def test_asterisk_22_takes_the_commands_over_the_websocket(settings: Settings) -> None:
    """Asked, the lab's Asterisk answers a REST request on the app's WebSocket: the commands go there."""
    async with AriConnection(settings.ari, app=f"test-ws-{uuid.uuid4().hex[:8]}") as ari:
        assert ari.client.over_websocket
        assert await ari.client.call("asterisk.getGlobalVar", variable="ASTERISK_REC_NO_SUCH_VARIABLE") == \
            {"value": ""}


@pytest.mark.parametrize("over_websocket", [True, False], ids=["websocket", "http"])
async def test_commands_answer_alike_over_either_transport(settings: Settings, over_websocket: bool) -> None:
    """A channel made with a body (its variables), read back, listed and hung up; a bridge made and
    destroyed; commands on what does not exist fail with Asterisk's status and message, a recording's
    name with a slash included."""
    app = f"test-cmd-{uuid.uuid4().hex[:8]}"
    channel, bridge = f"{app}-chan", f"{app}-bridge"
    async with AriConnection(settings.ari, app=app, commands_over_websocket=over_websocket) as ari:
        client, events = ari.client, EventLog(ari.client)
        assert client.over_websocket is over_websocket
        await client.call("channels.originate", endpoint="Local/440@lab-tones", app=app, channelId=channel,
                          variables={"ASTERISK_REC_TEST": "ü, ☎ value"})
        await events.wait_for("StasisStart", lambda e: e["channel"]["id"] == channel)
        assert await client.call("channels.getChannelVar", channelId=channel, variable="ASTERISK_REC_TEST") == \
            {"value": "ü, ☎ value"}
        assert channel in {c["id"] for c in await client.call("channels.list")}
        made = await client.call("bridges.create", bridgeId=bridge, type="mixing")
        assert made["id"] == bridge
        assert await client.call("bridges.destroy", bridgeId=bridge) is None
        await client.call("channels.hangup", channelId=channel)
        await events.wait_for("StasisEnd", lambda e: e["channel"]["id"] == channel)

        with pytest.raises(AriCommandFailed) as missing:
            await client.call("channels.getChannelVar", channelId=channel, variable="X")
        assert missing.value.status == 404 and "not found" in missing.value.text.lower()
        with pytest.raises(AriCommandFailed) as no_recording:
            await client.call("recordings.stop", recordingName=f"{app}/not-recording")
        assert no_recording.value.status == 404


async def test_a_closed_connection_fails_its_commands_at_once(settings: Settings) -> None:
    """After the connection closes its client raises AriConnectionLost, and its ``closed`` is set."""
    async with AriConnection(settings.ari, app=f"test-closed-{uuid.uuid4().hex[:8]}") as ari:
        client = ari.client
    assert client.closed.is_set()
    with pytest.raises(AriConnectionLost):
        await client.call("asterisk.ping")
    with pytest.raises(AriConnectionLost):
        ari.client  # noqa: B018 (the property raises)


async def test_wrong_credentials_are_said(settings: Settings) -> None:
    """A wrong password is AriCredentialsRejected, naming the user, not a hang or a traceback."""
    wrong = dataclasses.replace(settings.ari, password=Secret("not-the-password"))
    with pytest.raises(AriCredentialsRejected, match=settings.ari.user):
        async with AriConnection(wrong, app="test-wrong-credentials"):
            pass


async def test_an_app_is_sent_only_the_events_it_asks_for(settings: Settings) -> None:
    """Connected asking for StasisStart and StasisEnd only, an app gets nothing else for a channel's life
    (which raises variable, state and dialplan events) and its commands over the WebSocket are still
    answered; connected again asking for all, it gets the others too (the filter outlives a connection
    in Asterisk, so each connection sets its own)."""
    app = f"test-filter-{uuid.uuid4().hex[:8]}"

    async def one_channel(events: tuple[str, ...] | None) -> set[str]:
        channel = f"{app}-{uuid.uuid4().hex[:6]}"
        async with AriConnection(settings.ari, app=app, events=events) as ari:
            client, log = ari.client, EventLog(ari.client)
            assert client.over_websocket
            await client.call("channels.originate", endpoint="Local/440@lab-tones", app=app, channelId=channel)
            await log.wait_for("StasisStart", lambda e: e["channel"]["id"] == channel)
            await client.call("channels.setChannelVar", channelId=channel, variable="ASTERISK_REC_TEST",
                              value="x")
            await client.call("channels.answer", channelId=channel)
            await client.call("channels.hangup", channelId=channel)
            await log.wait_for("StasisEnd", lambda e: e["channel"]["id"] == channel)
            return {event["type"] for event in log.events}

    assert await one_channel(("StasisStart", "StasisEnd")) == {"StasisStart", "StasisEnd"}
    assert {"ChannelVarset", "ChannelStateChange"} <= await one_channel(None)
