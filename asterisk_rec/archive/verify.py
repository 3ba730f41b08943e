"""``asterisk-rec verify``: every archived recording hashed again and compared with the SHA-256 taken
when it was stored. A file missing or altered is reported; nothing is changed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import anyio

from asterisk_rec.archive.records import RecordingStore, StoredRecording
from asterisk_rec.archive.store import sha256_of


class Problem(StrEnum):
    MISSING = "missing"
    ALTERED = "altered"
    UNREADABLE = "unreadable"


@dataclass(frozen=True)
class Finding:
    recording: StoredRecording
    path: Path
    problem: Problem
    detail: str = ""


async def check_file(recording: StoredRecording, root: Path) -> Finding | None:
    path = root / recording.path
    try:
        sha256, size = await anyio.to_thread.run_sync(sha256_of, path)
    except FileNotFoundError:
        return Finding(recording, path, Problem.MISSING)
    except OSError as err:
        return Finding(recording, path, Problem.UNREADABLE, err.strerror or str(err))
    if (sha256, size) != (recording.sha256, recording.size_bytes):
        return Finding(recording, path, Problem.ALTERED,
                       f"SHA-256 {sha256} ({size} bytes), stored as {recording.sha256} ({recording.size_bytes} bytes)")
    return None


async def verify(store: RecordingStore, root: Path, organisation_id: int | None = None) -> AsyncIterator[
        tuple[StoredRecording, Finding | None]]:
    """Each stored recording (of one organisation, if given) with what is wrong with its file, if anything."""
    for recording in await store.stored(organisation_id):
        yield recording, await check_file(recording, root)
