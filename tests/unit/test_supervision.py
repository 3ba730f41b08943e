"""Background jobs under supervision, spreadsheet-safe cells, and the archive's sweep racing a worker
(pure logic; the archive's I/O against Asterisk is replaced by a small in-memory spool, the files
written for real)."""

from __future__ import annotations

import contextlib
import wave
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import anyio
import pytest

from asterisk_rec.archive.records import RecordingStore
from asterisk_rec.archive.worker import Archiver
from asterisk_rec.config import ArchiveSettings
from asterisk_rec.directory.models import ArchiveFormat
from asterisk_rec.export.spreadsheet import cell
from asterisk_rec.jobs.supervisor import describe, supervised
from asterisk_rec.recording.naming import new_call_id, recording_name

pytestmark = pytest.mark.anyio


class Failures:
    def __init__(self) -> None:
        self.noted: list[tuple[str, str]] = []

    async def failed(self, job: str, error: str) -> None:
        self.noted.append((job, error))


async def test_a_job_failing_with_an_exception_group_is_started_again() -> None:
    """An OSError raised inside a task group arrives as an ExceptionGroup: the supervisor catches it, notes
    the leaf's reason on the job's row and starts the job again; nothing reaches the caller."""
    runs = 0
    failures = Failures()

    async def job() -> None:
        nonlocal runs
        runs += 1
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(anyio.sleep, 0)
            raise OSError(28, "No space left on device")

    with anyio.move_on_after(1):
        await supervised("exports", job, failures, first_delay=0.01, max_delay=0.02)
    assert runs >= 3
    assert failures.noted[0] == ("exports", "OSError: [Errno 28] No space left on device")


async def test_cancelling_the_service_ends_a_supervised_job() -> None:
    """Cancellation is not a failure: it passes through, and nothing is noted."""
    failures = Failures()
    with anyio.move_on_after(0.1) as scope:
        await supervised("sleeper", lambda: anyio.sleep(10), failures)
    assert scope.cancelled_caught and failures.noted == []


def test_describe_names_the_first_leaf() -> None:
    """Nested groups are unwrapped to the first real error, with its type."""
    group = ExceptionGroup("outer", [ExceptionGroup("inner", [ValueError("bad")])])
    assert describe(group) == "ValueError: bad"
    assert describe(KeyError()) == "KeyError"


@pytest.mark.parametrize(("value", "shown"), [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("@SUM(A1)", "'@SUM(A1)"),
    ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"), ("-2+3", "'-2+3"), ("\t=1", "'\t=1"), ("\r=1", "'\r=1"),
    ("+31612345678", "+31612345678"), ("-3", "-3"), ("201", "201"), ("Ann = Bob", "Ann = Bob"), ("", ""),
    (None, ""), (17, "17"), ("\uff1d1", "\uff1d1")])
def test_spreadsheet_cells_carry_no_formula(value: object, shown: str) -> None:
    """A caller id that a spreadsheet would run as a formula is shown as text; telephone numbers and plain
    text stay as they are."""
    assert cell(value) == shown


class Spool:
    """Asterisk's stored recordings, in memory."""

    def __init__(self, recordings: dict[str, bytes]) -> None:
        self.recordings = recordings
        self.while_asked: Any = None

    async def stored_recording_names(self) -> list[str]:
        return list(self.recordings)

    async def is_live(self, name: str) -> bool:
        if self.while_asked is not None:
            job, self.while_asked = self.while_asked, None
            await job()
        return False

    @contextlib.asynccontextmanager
    async def stored_recording(self, name: str) -> AsyncIterator[AsyncIterator[bytes]]:
        async def chunks() -> AsyncIterator[bytes]:
            yield self.recordings[name]
        yield chunks()

    async def delete_stored_recording(self, name: str) -> None:
        del self.recordings[name]


class Rows:
    def __init__(self) -> None:
        self.stored: list[str] = []
        self.failed: list[str] = []

    async def archive_format(self, organisation_id: int) -> ArchiveFormat:
        return ArchiveFormat.WAV

    async def recording_stored(self, name: str, *args: object) -> None:
        self.stored.append(name)

    async def unfinished(self, older_than_seconds: float) -> list[str]:
        return []

    async def attempt_failed(self, name: str, error: str) -> None:
        self.failed.append(name)


def a_wav(path: Path) -> bytes:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0\0" * 800)
    return path.read_bytes()


async def test_the_sweep_does_not_queue_what_a_worker_just_archived(tmp_path: Path) -> None:
    """The sweep lists the spool; while it asks Asterisk whether the recording is live, a worker archives
    it and deletes the spool copy. The sweep must not queue it again (its fetch would fail and write an
    error on a good row)."""
    name = recording_name(1, new_call_id(), datetime.now(UTC))
    spool, rows = Spool({name: a_wav(tmp_path / "spool.wav")}), Rows()
    archiver = Archiver(cast(Any, spool), cast(RecordingStore, rows), ArchiveSettings(root=str(tmp_path / "archive")))
    spool.while_asked = lambda: archiver.archive(name)
    assert await archiver.sweep() == 0
    assert archiver.pending == 0 and rows.stored == [name] and rows.failed == []
    assert archiver.counts.failed_attempts == 0
