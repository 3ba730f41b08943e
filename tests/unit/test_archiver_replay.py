"""The archiver without the lab: the recording a replayed lab call hands over (tests/fixtures/ari/) is
fetched from a stand-in of Asterisk's spool, converted by the real ffmpeg, synced into the archive,
recorded, and only then deleted from the spool; a failed fetch is noted and retried by the sweep."""

from __future__ import annotations

import hashlib
import io
import math
import struct
import wave
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from asterisk_rec.archive.paths import archive_path
from asterisk_rec.archive.store import ArchivedFile, wav_seconds
from asterisk_rec.archive.worker import Archiver
from asterisk_rec.config import ArchiveSettings
from asterisk_rec.directory.models import ArchiveFormat
from asterisk_rec.errors import AriError
from asterisk_rec.recording.naming import RecordingName, parse_recording_name
from asterisk_rec.testing.ari_replay import FIXTURES, Fixture, run_replay

pytestmark = pytest.mark.anyio

SECONDS = 2.0


def tone_wav(seconds: float = SECONDS, rate: int = 8000, hz: int = 700) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(rate)
        file.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * hz * i / rate)))
                                  for i in range(int(seconds * rate))))
    return out.getvalue()


class Spool:
    """Asterisk's stored recordings, as the archiver asks for them; ``failing`` fetches fail first."""

    def __init__(self, files: dict[str, bytes], failing: int = 0) -> None:
        self.files = files
        self.failing = failing
        self.fetches = 0

    @asynccontextmanager
    async def stored_recording(self, name: str) -> AsyncIterator[AsyncIterator[bytes]]:
        self.fetches += 1
        if self.failing:
            self.failing -= 1
            raise AriError("ARI GET recordings/stored answered 500: replayed fault")
        data = self.files[name]

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(data), 4096):
                yield data[start:start + 4096]

        yield chunks()

    async def stored_recording_names(self) -> list[str]:
        return list(self.files)

    async def is_live(self, name: str) -> bool:
        return False

    async def delete_stored_recording(self, name: str) -> None:
        del self.files[name]


class Rows:
    """The recordings table as the archiver writes it."""

    def __init__(self, archive_format: ArchiveFormat = ArchiveFormat.MP3) -> None:
        self.format = archive_format
        self.stored: dict[str, tuple[RecordingName, ArchivedFile, Path]] = {}
        self.failures: list[tuple[str, str]] = []
        self.changed = anyio.Event()

    async def archive_format(self, organisation_id: int) -> ArchiveFormat | None:
        return self.format

    async def recording_stored(self, name: str, parsed: RecordingName, file: ArchivedFile, relative: Path,
                               archive_format: ArchiveFormat) -> None:
        self.stored[name] = (parsed, file, relative)
        self.changed.set()

    async def unfinished(self, older_than_seconds: float) -> list[str]:
        return []

    async def attempt_failed(self, name: str, error: str) -> None:
        self.failures.append((name, error))


async def archived(name: str, spool: Spool, rows: Rows, root: Path, held: list[str],
                   released: list[tuple[str, bool]], **options: Any) -> tuple[RecordingName, ArchivedFile, Path]:
    """Runs the archiver on the replay's hand-offs until ``name`` is stored (at most 30 s)."""
    settings = ArchiveSettings(root=str(root), workers=1, sweep_seconds=0.2, retry_max_seconds=1)
    archiver = Archiver(spool, rows, settings, **options)  # type: ignore[arg-type]
    for each in held:
        archiver.hold(each)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(archiver.run)
        for each, keep in released:
            archiver.release(each, archive=keep)
        with anyio.fail_after(30):
            while name not in rows.stored:
                await rows.changed.wait()
                rows.changed = anyio.Event()
        tasks.cancel_scope.cancel()
    return rows.stored[name]


async def test_the_format_known_in_memory_is_used_and_the_copy_deleted_as_told(tmp_path: Path) -> None:
    """With the organisation's format from the directory in memory, the table is not asked (it says MP3
    here, memory WAV: the file is WAV); an organisation memory does not know is looked up in the table;
    the spool copy is deleted by the given ``delete``, after the row is written."""
    name, held, released = the_recording("incoming_desk_answers")
    parsed = parse_recording_name(name)
    assert parsed is not None
    deleted: list[tuple[str, bool]] = []
    spool, rows = Spool({name: tone_wav()}), Rows(ArchiveFormat.MP3)

    async def delete(each: str) -> None:
        deleted.append((each, each in rows.stored))
        await spool.delete_stored_recording(each)

    known = {parsed.organisation_id: ArchiveFormat.WAV}
    _, file, _ = await archived(name, spool, rows, tmp_path, held, released, known_format=known.get,
                                delete=delete)
    assert file.path.suffix == ".wav" and deleted == [(name, True)] and name not in spool.files
    other = f"asterisk-rec/{parsed.organisation_id + 1}/{parsed.day.isoformat()}/{parsed.call_id}"
    spool.files[other] = tone_wav()
    _, file, _ = await archived(other, spool, rows, tmp_path / "2", [], [(other, True)], known_format=known.get)
    assert file.path.suffix == ".mp3"


def the_recording(fixture_name: str) -> tuple[str, list[str], list[tuple[str, bool]]]:
    result = run_replay(Fixture.load(FIXTURES / f"{fixture_name}.json"))
    ((name, keep),) = result.archive.released
    assert keep
    return name, result.archive.held, result.archive.released


@pytest.mark.parametrize("fixture_name", ["incoming_desk_answers", "adopted_after_a_restart"])
async def test_the_replayed_calls_recording_is_archived(fixture_name: str, tmp_path: Path) -> None:
    """The recording lands at <root>/<organisation>/<YYYY>/<MM>/<DD>/<call id>.mp3 with its hash and about
    its length, and leaves the spool only once it is recorded."""
    name, held, released = the_recording(fixture_name)
    parsed = parse_recording_name(name)
    assert parsed is not None
    spool, rows = Spool({name: tone_wav()}), Rows()
    stored_as, file, relative = await archived(name, spool, rows, tmp_path, held, released)
    target = archive_path(tmp_path, parsed.organisation_id, parsed.day, parsed.call_id, "mp3")
    assert stored_as == parsed and file.path == target and relative == target.relative_to(tmp_path)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == file.sha256
    assert abs(file.seconds - SECONDS) < 0.2
    assert name not in spool.files and rows.failures == []


async def test_a_wav_archived_as_wav_starts_no_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Archived in the spool's format, the file is the spool's bytes as they came (hashed on the way),
    and its length is read from its header: neither ffmpeg nor ffprobe runs."""
    async def no_process(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a process was started: {args}")

    monkeypatch.setattr(anyio, "run_process", no_process)
    name, held, released = the_recording("incoming_desk_answers")
    spool, rows = Spool({name: tone_wav()}), Rows(ArchiveFormat.WAV)
    data = spool.files[name]
    _, file, _ = await archived(name, spool, rows, tmp_path, held, released)
    assert file.path.read_bytes() == data and file.sha256 == hashlib.sha256(data).hexdigest()
    assert (file.size, file.seconds) == (len(data), SECONDS)


def test_a_wavs_length_comes_from_its_header(tmp_path: Path) -> None:
    """Frames over rate; a header whose sizes were never written (a crash), or no WAV at all: unknown."""
    (tmp_path / "ok.wav").write_bytes(tone_wav(1.5))
    assert wav_seconds(tmp_path / "ok.wav") == 1.5
    unfinished = bytearray(tone_wav(1.0))
    unfinished[40:44] = b"\0\0\0\0"  # the data chunk's size
    (tmp_path / "unfinished.wav").write_bytes(bytes(unfinished))
    (tmp_path / "noise.wav").write_bytes("geen wav \u00e9\U0001f600".encode())
    assert wav_seconds(tmp_path / "unfinished.wav") is None and wav_seconds(tmp_path / "noise.wav") is None
    assert wav_seconds(tmp_path / "missing.wav") is None


def test_a_wav_header_with_no_audio_after_it_is_no_length(tmp_path: Path) -> None:
    """A header alone is 0 s, its sizes written (Python's) or not (Asterisk's, stopped as it began)."""
    (tmp_path / "empty.wav").write_bytes(tone_wav(0))
    (tmp_path / "never_sized.wav").write_bytes(asterisk_header_only())
    assert wav_seconds(tmp_path / "empty.wav") == 0.0 and wav_seconds(tmp_path / "never_sized.wav") == 0.0


def asterisk_header_only() -> bytes:
    """What Asterisk leaves of a recording it stopped as it began: its 44-byte header, sizes still 0."""
    header = bytearray(tone_wav(0))
    header[4:8] = b"\0\0\0\0"
    return bytes(header)


async def test_a_recording_of_no_length_is_stored_with_no_length(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    """Asterisk's header alone, archived as MP3 (whose length ffprobe cannot read): stored as 0 s, once,
    with a warning; not retried for ever."""
    name, held, released = the_recording("incoming_desk_answers")
    spool, rows = Spool({name: asterisk_header_only()}), Rows(ArchiveFormat.MP3)
    _, file, _ = await archived(name, spool, rows, tmp_path, held, released)
    assert file.seconds == 0.0 and rows.failures == [] and name not in spool.files
    assert any("holds no audio" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)


@pytest.mark.parametrize("archive_format", [ArchiveFormat.MP3, ArchiveFormat.WAV])
async def test_an_unreadable_file_left_at_the_name_is_set_aside(tmp_path: Path,
                                                                archive_format: ArchiveFormat) -> None:
    """A file at the recording's name that cannot be read (not stored whole; the recording still in the
    spool) is kept beside it under another name, and the recording is stored again from the spool."""
    name, held, released = the_recording("incoming_desk_answers")
    parsed = parse_recording_name(name)
    assert parsed is not None
    target = archive_path(tmp_path, parsed.organisation_id, parsed.day, parsed.call_id, archive_format.value)
    target.parent.mkdir(parents=True)
    left = "afgebroken \u00e9\U0001f600".encode()
    target.write_bytes(left)
    spool, rows = Spool({name: tone_wav()}), Rows(archive_format)
    _, file, _ = await archived(name, spool, rows, tmp_path, held, released)
    assert abs(file.seconds - SECONDS) < 0.2 and rows.failures == []
    (aside,) = [p for p in target.parent.iterdir() if p != target]
    assert aside.name.startswith(f".{target.name}.unreadable-") and aside.read_bytes() == left


async def test_a_failed_fetch_is_noted_and_retried(tmp_path: Path) -> None:
    """Asterisk failing the first fetch: the failure is noted on the row, the sweep finds the recording
    again in the spool, and the second fetch stores it; nothing partial is left beside it."""
    name, held, released = the_recording("hold_and_unhold")
    spool, rows = Spool({name: tone_wav()}, failing=1), Rows()
    _, file, _ = await archived(name, spool, rows, tmp_path, held, released)
    assert [failed for failed, _ in rows.failures] == [name] and spool.fetches == 2
    assert [p.name for p in file.path.parent.iterdir()] == [file.path.name]


def test_spool_stand_in_matches_the_adapter() -> None:
    """The stand-ins offer what the archiver calls on AriRest and RecordingStore (by name)."""
    from asterisk_rec.adapters.ari import AriRest
    from asterisk_rec.archive.records import RecordingStore
    spool_calls = ("stored_recording", "stored_recording_names", "is_live", "delete_stored_recording")
    row_calls = ("archive_format", "recording_stored", "unfinished", "attempt_failed")
    for adapter, stand_in, calls in ((AriRest, Spool, spool_calls), (RecordingStore, Rows, row_calls)):
        for call in calls:
            assert callable(getattr(adapter, call)) and callable(getattr(stand_in, call)), call


@pytest.mark.parametrize("name", ["../etc/passwd", "org/../../x", "/abs/name"])
def test_a_recording_name_never_leaves_the_spool(name: str) -> None:
    """A name with ``..`` or an absolute one is refused before any file is opened."""
    from asterisk_rec.archive.store import ArchiveError, spool_file

    with pytest.raises(ArchiveError, match="leaves the spool"):
        spool_file(Path("/var/spool/asterisk/recording"), name, "wav")
    assert spool_file(Path("/s"), "org/2026/call", "wav") == Path("/s/org/2026/call.wav")
