"""A call originated over ARI reaches a Stasis app, is bridged and recorded by Asterisk, and the
recording fetched back over ARI holds the tone the far end played; fetched into the archive, it is
streamed, converted to the archive format, hashed, synced and never rewritten."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import anyio
import pytest

from asterisk_rec.adapters.ari import AriConnection, AriRest
from asterisk_rec.archive.convert import duration_seconds
from asterisk_rec.archive.paths import archive_path
from asterisk_rec.archive.store import fetch_into_archive
from asterisk_rec.config import Settings
from asterisk_rec.directory.models import ArchiveFormat
from asterisk_rec.errors import AriError
from asterisk_rec.recording.naming import new_call_id
from asterisk_rec.testing.ari_events import EventLog
from asterisk_rec.testing.tones import read_audio, read_wav, tone_coverage

pytestmark = pytest.mark.anyio

TONE_HZ = 1000


@pytest.fixture
async def tone_recording(settings: Settings) -> AsyncIterator[str]:
    """A stored recording of 3 s of a Local channel playing 1000 Hz in a bridge; deleted afterwards."""
    app = f"test-rec-{uuid.uuid4().hex[:8]}"
    channel_id, bridge_id = f"{app}-chan", f"{app}-bridge"
    name = f"lab-test/{app}"
    async with AriConnection(settings.ari, app=app) as ari:
        client, events = ari.client, EventLog(ari.client)
        await client.call("channels.originate", endpoint=f"Local/{TONE_HZ}@lab-tones", app=app,
                          channelId=channel_id, formats="slin")
        await events.wait_for("StasisStart", lambda e: e["channel"]["id"] == channel_id)

        await client.call("bridges.create", type="mixing", bridgeId=bridge_id)
        await client.call("bridges.addChannel", bridgeId=bridge_id, channel=channel_id)
        await events.wait_for("ChannelEnteredBridge", lambda e: e["channel"]["id"] == channel_id)
        await client.call("bridges.record", bridgeId=bridge_id, name=name, format="wav", ifExists="overwrite")
        await events.wait_for("RecordingStarted", lambda e: e["recording"]["name"] == name)
        await anyio.sleep(3)
        await client.call("recordings.stop", recordingName=name)
        await events.wait_for("RecordingFinished", lambda e: e["recording"]["name"] == name)

        await client.call("channels.hangup", channelId=channel_id)
        await client.call("bridges.destroy", bridgeId=bridge_id)
        yield name
        await ari.rest.delete_stored_recording(name)


async def test_bridged_call_is_recorded_and_fetched(settings: Settings, tone_recording: str, tmp_path: Path) -> None:
    """The recording of a Local channel playing 1000 Hz holds that tone in at least 95 % of its 100 ms windows."""
    target = tmp_path / "call.wav"
    async with AriRest(settings.ari) as ari:
        size = await ari.download_stored_recording(tone_recording, target)
    assert size == target.stat().st_size > 0
    audio = read_wav(target)
    assert audio.seconds >= 2.5, audio.seconds
    coverage = tone_coverage(audio, TONE_HZ)
    assert coverage >= 0.95, f"the tone fills only {coverage:.1%} of the 100 ms windows"


async def test_fetch_into_archive(settings: Settings, tone_recording: str, tmp_path: Path) -> None:
    """The archive copy lands at its organisation/day path with the SHA-256 of its bytes, no partial file
    is left, the tone is intact, and fetching again onto it leaves the file as it was (never rewritten).
    Its length, read from the header Asterisk wrote, is what ffprobe reads."""
    target = archive_path(tmp_path / "archive", 7, date(2026, 11, 28), new_call_id(), "wav")
    async with AriRest(settings.ari) as ari:
        archived = await fetch_into_archive(ari, tone_recording, target, ArchiveFormat.WAV)
        before = target.stat()
        again = await fetch_into_archive(ari, tone_recording, target, ArchiveFormat.WAV)
    data = target.read_bytes()
    assert archived.size == len(data) > 0
    assert archived.sha256 == again.sha256 == hashlib.sha256(data).hexdigest()
    assert (target.stat().st_ino, target.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert [p.name for p in target.parent.iterdir()] == [target.name]
    assert 2.5 <= archived.seconds <= 3.5, archived.seconds
    assert abs(archived.seconds - await duration_seconds(target)) < 0.01
    assert tone_coverage(read_wav(target), TONE_HZ) >= 0.95


@pytest.mark.parametrize("archive_format", [ArchiveFormat.FLAC, ArchiveFormat.OPUS, ArchiveFormat.MP3])
async def test_fetch_converts_into_the_archive_format(settings: Settings, tone_recording: str, tmp_path: Path,
                                                      archive_format: ArchiveFormat) -> None:
    """Converted file to file into FLAC, Opus or MP3: the file has its format's extension, the hash of its
    bytes, a duration, and still the tone in 95 % of its windows; only the archived file is left."""
    target = archive_path(tmp_path / "archive", 7, date(2026, 11, 28), new_call_id(), archive_format.value)
    async with AriRest(settings.ari) as ari:
        archived = await fetch_into_archive(ari, tone_recording, target, archive_format)
    assert archived.sha256 == hashlib.sha256(target.read_bytes()).hexdigest()
    assert [p.name for p in target.parent.iterdir()] == [target.name]
    assert 2.5 <= archived.seconds <= 3.5, archived.seconds
    assert tone_coverage(read_audio(target), TONE_HZ) >= 0.95


async def test_archive_refuses_a_recording_asterisk_does_not_have(settings: Settings, tmp_path: Path) -> None:
    """A missing recording is an ARI error (404) and leaves nothing in the archive."""
    target = archive_path(tmp_path / "archive", 7, date(2026, 11, 28), new_call_id(), "wav")
    async with AriRest(settings.ari) as ari:
        with pytest.raises(AriError, match="404"):
            await fetch_into_archive(ari, "lab-test/no-such-recording", target, ArchiveFormat.WAV)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


async def test_beside_asterisk_the_recording_is_copied_from_its_spool(
        settings: Settings, tone_recording: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """With ``archive.spool_dir`` (the lab's spool seen from the host) the archived file is the spool's
    bytes, with the same hash and length as fetched over HTTP, and no HTTP request for them is made;
    with a spool_dir that does not hold it, it is fetched over HTTP and a warning names the setting."""
    assert settings.archive.spool_dir, "the lab's env file names the spool (ASTERISK_REC_ARCHIVE_SPOOL_DIR)"
    spool = Path(settings.archive.spool_dir)
    over_http = archive_path(tmp_path / "http", 7, date(2026, 11, 28), new_call_id(), "wav")
    from_spool = archive_path(tmp_path / "spool", 7, date(2026, 11, 28), new_call_id(), "wav")
    elsewhere = archive_path(tmp_path / "elsewhere", 7, date(2026, 11, 28), new_call_id(), "wav")
    async with AriRest(settings.ari) as ari:
        fetched = await fetch_into_archive(ari, tone_recording, over_http, ArchiveFormat.WAV)
        with monkeypatch.context() as patch:
            patch.setattr(AriRest, "stored_recording", lambda *_: pytest.fail("fetched over HTTP"))
            copied = await fetch_into_archive(ari, tone_recording, from_spool, ArchiveFormat.WAV, spool_dir=spool)
        empty = tmp_path / "not-the-spool"
        empty.mkdir()
        fallen_back = await fetch_into_archive(ari, tone_recording, elsewhere, ArchiveFormat.WAV, spool_dir=empty)
    assert from_spool.read_bytes() == (spool / f"{tone_recording}.wav").read_bytes() == over_http.read_bytes()
    assert (copied.sha256, copied.size, copied.seconds) == (fetched.sha256, fetched.size, fetched.seconds)
    assert fallen_back.sha256 == fetched.sha256
    assert any("archive.spool_dir" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)
