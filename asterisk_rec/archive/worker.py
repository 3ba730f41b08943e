"""The archiver: a bounded pool of workers moving finished recordings from Asterisk's spool into the
archive. Asterisk's spool is the queue: a recording leaves it only once its archived file is synced and
recorded in PostgreSQL. So a recording whose RecordingFinished was missed (the service was down), whose
fetch failed or whose store failed is found again by the sweep of the stored recordings, and retried
with a growing delay: reported every time (log, counters, the row's attempts and last error), never
dropped."""

from __future__ import annotations

import errno
import logging
import math
from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream

from asterisk_rec.adapters.ari import AriRest
from asterisk_rec.archive.convert import extension
from asterisk_rec.archive.paths import archive_path
from asterisk_rec.archive.records import RecordingStore
from asterisk_rec.archive.store import fetch_into_archive
from asterisk_rec.config import ArchiveSettings
from asterisk_rec.directory.models import ArchiveFormat
from asterisk_rec.health.durations import SLOW, Durations
from asterisk_rec.logs import logging_about_call
from asterisk_rec.recording.naming import PREFIX, parse_recording_name

log = logging.getLogger(__name__)

# A recording written down as started is looked for in Asterisk only after this long (it may be starting).
LOST_AFTER_SECONDS = 60.0
# Longer than one sweep takes to list the spool and ask about each recording.
REMEMBER_ARCHIVED_SECONDS = 300.0


@dataclass
class ArchiveCounts:
    stored: int = 0
    failed_attempts: int = 0
    # Recordings whose organisation no longer exists: left in the spool for the operator.
    unowned: int = 0
    # Recordings the app wrote down as started that are neither in Asterisk (live or stored) nor archived.
    lost: int = 0


class Archiver:
    def __init__(self, ari: AriRest, store: RecordingStore, settings: ArchiveSettings,
                 spool_format: str = "wav", *, known_format: Callable[[int], ArchiveFormat | None] | None = None,
                 delete: Callable[[str], Awaitable[None]] | None = None) -> None:
        """``known_format``: an organisation's archive format from memory (the directory cache), None when
        it does not know the organisation (then PostgreSQL is asked); ``delete``: how the spool copy is
        deleted (over the app's WebSocket, cheaper than a request of its own), by default over HTTP."""
        self.ari = ari
        self.store = store
        self.known_format = known_format
        self.delete = delete or ari.delete_stored_recording
        self.settings = settings
        self.root = Path(settings.root)
        self.spool_format = spool_format
        self.spool_dir = Path(settings.spool_dir) if settings.spool_dir else None
        self.counts = ArchiveCounts()
        # Recordings the app is still running or deciding on (a call's caller may leave before the parties
        # met: that recording is deleted, not archived). The sweep passes them over.
        self._held: set[str] = set()
        self._queued: set[str] = set()
        self._failures: dict[str, int] = {}
        self._retry_at: dict[str, float] = {}
        self._reported_lost: set[str] = set()
        # Archived lately, with when: a sweep that listed the spool just before the worker deleted the copy
        # must not queue it again (its fetch would fail and note an error on a good row).
        self._archived: dict[str, float] = {}
        # The archive's disk full: one alarm per incident, and an all-clear once a recording is stored.
        self.disk_full_since: float | None = None
        # From the app's release of a finished recording to its file stored (for /metrics).
        self.hangup_to_stored = Durations(SLOW)
        self._finished_at: dict[str, float] = {}
        # Storing has failed since (monotonic), with the last error; None once a recording is stored again.
        self.failing_since: float | None = None
        self.last_error = ""
        self._send, self._receive = anyio.create_memory_object_stream[str](max_buffer_size=math.inf)

    def hold(self, name: str) -> None:
        self._held.add(name)

    def release(self, name: str, *, archive: bool) -> None:
        """The app is done with ``name``: Asterisk reported it finished (``archive``), or it was discarded."""
        self._held.discard(name)
        if archive:
            self._finished_at[name] = anyio.current_time()
            self.submit(name)

    def submit(self, name: str) -> None:
        if name in self._queued or name in self._archived:
            return
        self._queued.add(name)
        self._send.send_nowait(name)

    @property
    def pending(self) -> int:
        return len(self._queued)

    async def run(self) -> None:
        async with anyio.create_task_group() as tasks:
            for _ in range(self.settings.workers):
                tasks.start_soon(self._work, self._receive.clone())
            tasks.start_soon(self._sweep_regularly)

    async def _sweep_regularly(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception as err:
                log.warning("cannot list Asterisk's stored recordings (%s): trying again", err)
            await anyio.sleep(self.settings.sweep_seconds)

    async def sweep(self) -> int:
        """Queues every finished recording of ours still in Asterisk's spool whose retry time has come."""
        queued = 0
        now = anyio.current_time()
        in_spool = await self.ari.stored_recording_names()
        self._forget_archived(now)
        for name in in_spool:
            if not name.startswith(PREFIX) or name in self._held or name in self._queued or name in self._archived:
                continue
            if self._retry_at.get(name, 0.0) > now or parse_recording_name(name) is None:
                continue
            if await self.ari.is_live(name) or name in self._queued or name in self._archived:
                continue  # (a worker may have taken and archived it while we asked)
            self.submit(name)
            queued += 1
        await self._report_lost(set(in_spool))
        return queued

    async def _report_lost(self, in_spool: set[str]) -> None:
        """The service's own records against Asterisk's: a recording written down as started that Asterisk
        neither records nor keeps, and that was never archived, is reported (once)."""
        for name in await self.store.unfinished(LOST_AFTER_SECONDS):
            if name in in_spool or name in self._held or name in self._reported_lost or await self.ari.is_live(name):
                continue
            self._reported_lost.add(name)
            self.counts.lost += 1
            log.error("recording %s was started but is neither in Asterisk nor in the archive: lost", name)

    async def _work(self, receive: MemoryObjectReceiveStream[str]) -> None:
        async for name in receive:
            parsed = parse_recording_name(name)
            with logging_about_call(parsed.call_id, parsed.organisation_id) if parsed else nullcontext():
                await self._archive_one(name)

    async def _archive_one(self, name: str) -> None:
        try:
            await self.archive(name)
        except Exception as err:
            self._failed(name, err)
            try:
                await self.store.attempt_failed(name, str(err))
            except Exception:
                log.debug("cannot note the failure of %s", name, exc_info=True)
        finally:
            self._queued.discard(name)

    def _forget_archived(self, now: float) -> None:
        for name, at in list(self._archived.items()):
            if now - at > REMEMBER_ARCHIVED_SECONDS:
                del self._archived[name]

    def _failed(self, name: str, err: Exception) -> None:
        if isinstance(err.__cause__, OSError) and err.__cause__.errno == errno.ENOSPC and self.disk_full_since is None:
            self.disk_full_since = anyio.current_time()
            log.error("ALARM: the archive's disk (%s) is full: recordings wait in Asterisk's spool and are archived"
                      " once there is room again", self.root)
        if self.failing_since is None:
            self.failing_since = anyio.current_time()
        self.last_error = str(err)
        failures = self._failures.get(name, 0) + 1
        self._failures[name] = failures
        delay = min(2.0 ** (failures - 1), self.settings.retry_max_seconds)
        self._retry_at[name] = anyio.current_time() + delay
        self.counts.failed_attempts += 1
        log.error("archiving %s failed (attempt %d): %s; trying again in %g s", name, failures, err, delay)

    async def archive(self, name: str) -> None:
        """Fetches, converts, hashes and stores one recording, records it, then deletes the spool copy."""
        parsed = parse_recording_name(name)
        if parsed is None:
            raise ValueError(f"not a recording name of asterisk-rec: {name!r}")
        archive_format = self.known_format(parsed.organisation_id) if self.known_format else None
        if archive_format is None:
            archive_format = await self.store.archive_format(parsed.organisation_id)
        if archive_format is None:
            if self._retry_at.get(name) is None:
                self.counts.unowned += 1
                log.error("recording %s belongs to organisation %d, which does not exist: left in Asterisk's "
                          "spool", name, parsed.organisation_id)
            self._retry_at[name] = math.inf
            return
        target = archive_path(self.root, parsed.organisation_id, parsed.day, parsed.call_id,
                              extension(archive_format))
        started = anyio.current_time()
        file = await fetch_into_archive(self.ari, name, target, archive_format, self.spool_format,
                                        self.spool_dir)
        await self.store.recording_stored(name, parsed, file, target.relative_to(self.root), archive_format)
        self._archived[name] = anyio.current_time()
        await self.delete(name)
        if self.disk_full_since is not None:
            log.warning("all clear: the archive's disk has room again after %.0f s",
                        anyio.current_time() - self.disk_full_since)
            self.disk_full_since = None
        self.failing_since = None
        finished = self._finished_at.pop(name, None)
        if finished is not None:
            self.hangup_to_stored.observe(anyio.current_time() - finished)
        self._failures.pop(name, None)
        self._retry_at.pop(name, None)
        self.counts.stored += 1
        if file.seconds == 0:
            log.warning("recording %s holds no audio (Asterisk stopped it as it began): stored as it is", name)
        log.info("recording %s stored as %s (%d bytes, %.1f s) in %.2f s", name, target, file.size, file.seconds,
                 anyio.current_time() - started)
