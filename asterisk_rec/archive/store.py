"""Fetching a recording from Asterisk into the archive: streamed to disk (never whole in memory),
converted file to file, hashed, synced, and only then given its name. The spool copy may be deleted only
after this returns. An archived file is never rewritten: if the name exists (a crash after the file was
stored but before it was recorded as stored) that file is taken as it is, unless it cannot be read as
audio; then it is set aside beside it (``.<name>.unreadable-<ns>``, never deleted) and stored again.

Beside Asterisk (``archive.spool_dir``) the recording is copied from its spool, hashed as it is read;
otherwise fetched over ARI's HTTP. No process is started where none is needed: a recording archived in
the spool's format is the fetched file itself, hashed while it arrived; its length comes from the WAV
header (the same audio when it is converted), so ffprobe runs only for a header that cannot tell."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import anyio

from asterisk_rec.adapters.ari import AriRest
from asterisk_rec.archive.convert import ConversionFailed, convert, duration_seconds
from asterisk_rec.directory.models import ArchiveFormat
from asterisk_rec.errors import AsteriskRecError

log = logging.getLogger(__name__)

HASH_CHUNK = 1 << 20
# The canonical PCM WAV header Asterisk writes (RIFF, fmt and data chunk headers).
WAV_HEADER_BYTES = 44


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


def wav_seconds(path: Path) -> float | None:
    """A WAV file's length from its header; None if the header cannot tell (not a WAV, or one whose
    sizes were never written, as after a crash). A header with nothing after it, its sizes written or
    not, is a recording of no length (Asterisk stopped as it began): 0."""
    try:
        with open(path, "rb") as file:
            if os.fstat(file.fileno()).st_size <= WAV_HEADER_BYTES and _is_wav(file.read(12)):
                return 0.0
            file.seek(0)
            with wave.open(file, "rb") as audio:
                frames, rate = audio.getnframes(), audio.getframerate()
    except (wave.Error, EOFError, OSError):
        return None
    return frames / rate if frames and rate else None


def _is_wav(start: bytes) -> bool:
    return start[:4] == b"RIFF" and start[8:12] == b"WAVE"


async def _download(ari: AriRest, name: str, partial: Path) -> tuple[str, int]:
    """Streams the recording to ``partial`` and syncs it; returns its SHA-256 and size, taken as it came."""
    digest = hashlib.sha256()
    size = 0
    async with ari.stored_recording(name) as chunks, await anyio.open_file(partial, "wb") as out:
        async for chunk in chunks:
            digest.update(chunk)
            size += len(chunk)
            await out.write(chunk)
        await out.flush()
        await anyio.to_thread.run_sync(os.fsync, out.wrapped.fileno())
    return digest.hexdigest(), size


def _copy(source: Path, partial: Path) -> tuple[str, int]:
    """Copies the spool's file to ``partial`` and syncs it; returns its SHA-256 and size, taken as read."""
    digest = hashlib.sha256()
    size = 0
    with open(source, "rb") as file, open(partial, "wb") as out:
        while chunk := file.read(HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest(), size


def spool_file(spool_dir: Path, name: str, spool_format: str) -> Path:
    """Where Asterisk keeps the stored recording ``name``; a name that would leave the spool is refused."""
    if ".." in Path(name).parts or Path(name).is_absolute():
        raise ArchiveError(f"recording name {name!r} leaves the spool")
    return spool_dir / f"{name}.{spool_format}"


async def _fetch(ari: AriRest, name: str, partial: Path, spool_format: str,
                 spool_dir: Path | None) -> tuple[str, int]:
    if spool_dir is not None:
        try:
            return await anyio.to_thread.run_sync(_copy, spool_file(spool_dir, name, spool_format), partial)
        except FileNotFoundError:
            log.warning("recording %s is not in archive.spool_dir %s: fetched over HTTP (is spool_dir Asterisk's"
                        " astspooldir/recording, as this host sees it?)", name, spool_dir)
    return await _download(ari, name, partial)


async def _left_by_an_earlier_attempt(target: Path, archive_format: ArchiveFormat) -> float | None:
    """The length of the file an earlier attempt stored at ``target`` (it stands, as it is); one that
    cannot be read (so not stored whole: the recording is still in the spool) is set aside, never deleted,
    and the recording is stored again."""
    if archive_format is ArchiveFormat.WAV:
        seconds = await anyio.to_thread.run_sync(wav_seconds, target)
        if seconds is not None:
            return seconds
    with contextlib.suppress(ConversionFailed):
        return await duration_seconds(target)
    aside = target.with_name(f".{target.name}.unreadable-{time.time_ns()}")
    await anyio.Path(target).rename(aside)
    log.warning("%s, left by an earlier attempt, cannot be read: set aside as %s; stored again", target, aside.name)
    return None


async def fetch_into_archive(ari: AriRest, name: str, target: Path, archive_format: ArchiveFormat,
                             spool_format: str = "wav", spool_dir: Path | None = None) -> ArchivedFile:
    """Stores the stored recording ``name`` at ``target`` in ``archive_format``. File work runs in worker
    threads or ffmpeg processes, off the event loop."""
    fetched = target.with_name(f".{target.stem}.{spool_format}.partial")
    encoded = target.with_name(f".{target.name}.partial")
    # What is known of the stored file without reading it again: its hash and size, and its length.
    known: tuple[str, int] | None = None
    seconds: float | None = None
    try:
        if await anyio.Path(target).exists():
            seconds = await _left_by_an_earlier_attempt(target, archive_format)
        if not await anyio.Path(target).exists():
            await anyio.Path(target.parent).mkdir(parents=True, exist_ok=True)
            fetched_hash = await _fetch(ari, name, fetched, spool_format, spool_dir)
            if spool_format == "wav":
                seconds = await anyio.to_thread.run_sync(wav_seconds, fetched)
            if archive_format.value == spool_format:
                await anyio.Path(fetched).rename(encoded)
            else:
                await convert(fetched, encoded, archive_format)
                await anyio.to_thread.run_sync(_fsync_file, encoded)
            try:
                await anyio.to_thread.run_sync(_finish, encoded, target)
                known = fetched_hash if archive_format.value == spool_format else None
            except FileExistsError:
                # An earlier attempt stored it meanwhile: that file stands, as it is.
                seconds = None
        if known is None:
            known = await anyio.to_thread.run_sync(sha256_of, target)
        sha256, size = known
        if seconds is None and archive_format is ArchiveFormat.WAV:
            seconds = await anyio.to_thread.run_sync(wav_seconds, target)
        return ArchivedFile(target, sha256, size, seconds if seconds is not None else await duration_seconds(target))
    except OSError as err:
        raise ArchiveError(f"cannot store {name} in {target.parent}: {err.strerror or err}") from err
    finally:
        for partial in (fetched, encoded):
            # In a read-only archive it stays: the next attempt overwrites it.
            with contextlib.suppress(OSError):
                await anyio.Path(partial).unlink(missing_ok=True)
