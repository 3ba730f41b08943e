"""Fetching a recording from Asterisk into the archive: streamed, hashed on the way, synced to disk
before it is called stored. The spool copy may be deleted only after this returns."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import anyio

from asterisk_rec.adapters.ari import AriRest
from asterisk_rec.errors import AsteriskRecError


class ArchiveError(AsteriskRecError):
    error_id = "archive_failed"


@dataclass(frozen=True)
class ArchivedFile:
    path: Path
    sha256: str
    size: int


def _fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _finish(partial: Path, target: Path) -> None:
    """Links the complete, synced partial file to its name (failing if the name exists: never overwrite)
    and syncs the directory, so the name survives a crash."""
    os.link(partial, target)
    _fsync_directory(target.parent)


async def fetch_into_archive(ari: AriRest, name: str, target: Path) -> ArchivedFile:
    """Streams the stored recording ``name`` to ``target`` (a partial file first, linked to its name once
    complete and synced). An archived file is never rewritten: an existing ``target`` is an error.
    File work runs in worker threads, off the event loop."""
    partial = target.with_name(f".{target.name}.partial")
    digest = hashlib.sha256()
    size = 0
    try:
        if await anyio.Path(target).exists():
            raise FileExistsError
        await anyio.Path(target.parent).mkdir(parents=True, exist_ok=True)
        async with ari.stored_recording(name) as chunks, await anyio.open_file(partial, "wb") as out:
            async for chunk in chunks:
                await out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
            await out.flush()
            await anyio.to_thread.run_sync(os.fsync, out.wrapped.fileno())
        await anyio.to_thread.run_sync(_finish, partial, target)
    except FileExistsError:
        raise ArchiveError(f"{target} exists already: an archived recording is never rewritten") from None
    except OSError as err:
        raise ArchiveError(f"cannot store {name} in {target.parent}: {err.strerror}") from err
    finally:
        await anyio.Path(partial).unlink(missing_ok=True)
    return ArchivedFile(target, digest.hexdigest(), size)
