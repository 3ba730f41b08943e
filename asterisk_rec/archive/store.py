"""Fetching a recording from Asterisk into the archive: streamed to disk (never whole in memory),
converted file to file, hashed, synced, and only then given its name. The spool copy may be deleted only
after this returns. An archived file is never rewritten: if the name exists (a crash after the file was
stored but before it was recorded as stored) that file is taken as it is."""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import anyio

from asterisk_rec.adapters.ari import AriRest
from asterisk_rec.archive.convert import convert, duration_seconds
from asterisk_rec.directory.models import ArchiveFormat
from asterisk_rec.errors import AsteriskRecError

HASH_CHUNK = 1 << 20


class ArchiveError(AsteriskRecError):
    error_id = "archive_failed"


@dataclass(frozen=True)
class ArchivedFile:
    path: Path
    sha256: str
    size: int
    seconds: float


def _fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as file:
        os.fsync(file.fileno())


def _finish(partial: Path, target: Path) -> None:
    """Links the complete, synced partial file to its name (failing if the name exists: never overwrite)
    and syncs the directory, so the name survives a crash."""
    os.link(partial, target)
    _fsync_directory(target.parent)


def sha256_of(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as file:
        while chunk := file.read(HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


async def _download(ari: AriRest, name: str, partial: Path) -> None:
    async with ari.stored_recording(name) as chunks, await anyio.open_file(partial, "wb") as out:
        async for chunk in chunks:
            await out.write(chunk)
        await out.flush()
        await anyio.to_thread.run_sync(os.fsync, out.wrapped.fileno())


async def fetch_into_archive(ari: AriRest, name: str, target: Path, archive_format: ArchiveFormat,
                             spool_format: str = "wav") -> ArchivedFile:
    """Stores the stored recording ``name`` at ``target`` in ``archive_format``. File work runs in worker
    threads or ffmpeg processes, off the event loop."""
    fetched = target.with_name(f".{target.stem}.{spool_format}.partial")
    encoded = target.with_name(f".{target.name}.partial")
    try:
        if not await anyio.Path(target).exists():
            await anyio.Path(target.parent).mkdir(parents=True, exist_ok=True)
            await _download(ari, name, fetched)
            if archive_format.value == spool_format:
                await anyio.Path(fetched).rename(encoded)
            else:
                await convert(fetched, encoded, archive_format)
                await anyio.to_thread.run_sync(_fsync_file, encoded)
            # If an earlier attempt stored it meanwhile, that file stands.
            with contextlib.suppress(FileExistsError):
                await anyio.to_thread.run_sync(_finish, encoded, target)
        sha256, size = await anyio.to_thread.run_sync(sha256_of, target)
        return ArchivedFile(target, sha256, size, await duration_seconds(target))
    except OSError as err:
        raise ArchiveError(f"cannot store {name} in {target.parent}: {err.strerror or err}") from err
    finally:
        for partial in (fetched, encoded):
            # In a read-only archive it stays: the next attempt overwrites it.
            with contextlib.suppress(OSError):
                await anyio.Path(partial).unlink(missing_ok=True)
