"""What the app writes down about the calls it runs, and when: a call before anyone rings, a recording
before it starts, both completed when the call ends, and the finished recording handed to the archive."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import anyio

from asterisk_rec.archive.records import RecordingStore
from asterisk_rec.archive.worker import Archiver
from asterisk_rec.callflow.call import CallRecord
from asterisk_rec.calls.store import CallStore
from asterisk_rec.calls.summary import AppCall

log = logging.getLogger(__name__)

# A write at the end of a call that fails (PostgreSQL away) is tried again this often, this long.
RETRY_SECONDS = 2.0
RETRY_FOR_SECONDS = 3600.0


class CallLedger:
    def __init__(self, calls: CallStore, recordings: RecordingStore, archiver: Archiver, task_group: Any) -> None:
        self.calls = calls
        self.recordings = recordings
        self.archiver = archiver
        self.task_group = task_group
        self._locks: dict[str, anyio.Lock] = {}

    async def call_started(self, call: AppCall) -> None:
        """Raises if it cannot be written: the call is then not taken on (the dialplan's fail mode)."""
        await self.calls.app_call_started(call)

    async def recording_starting(self, name: str, call_id: str, organisation_id: int, owners: tuple[int, ...],
                                 started_at: datetime) -> None:
        """Never raises: a recording the row could not be written for is still made, and the archive adopts
        it (its name carries the organisation and call)."""
        self.archiver.hold(name)
        try:
            await self.recordings.recording_started(name, call_id, organisation_id, owners, started_at)
        except Exception as err:
            log.error("recording %s of call %s: cannot write it down (%s); recording anyway", name, call_id, err)

    def parts_changed(self, record: CallRecord) -> None:
        """Keeps the recorded parts on the row as they change, in the background (one write at a time per
        recording, each of the parts as they are by then); the call's end writes them anyway."""
        self.task_group.start_soon(self._write_parts, record)

    async def _write_parts(self, record: CallRecord) -> None:
        name = record.recording_started
        if name is None:
            return
        async with self._locks.setdefault(name, anyio.Lock()):
            try:
                await self.recordings.parts_changed(name, [list(part) for part in record.parts])
            except Exception as err:
                log.warning("recording %s: cannot keep its parts so far (%s)", name, err)
        if record.ended_at is not None:
            self._locks.pop(name, None)

    async def parts_of(self, name: str) -> list[list[datetime | None]]:
        """The parts a recording's row holds (after a restart); none if they cannot be read."""
        try:
            return await self.recordings.parts_of(name)
        except Exception as err:
            log.warning("recording %s: cannot read its parts so far (%s)", name, err)
            return []

    def hold(self, name: str) -> None:
        self.archiver.hold(name)

    def recording_finished(self, name: str, *, keep: bool) -> None:
        self.archiver.release(name, archive=keep)

    def call_ended(self, record: CallRecord) -> None:
        """Completes the rows in the background, retrying while PostgreSQL is away."""
        self.task_group.start_soon(self._write_end, record)

    async def _write_end(self, record: CallRecord) -> None:
        with anyio.move_on_after(RETRY_FOR_SECONDS) as scope:
            while True:
                try:
                    await self._end(record)
                    return
                except Exception as err:
                    log.warning("call %s: cannot write its end (%s): retrying", record.call_id, err)
                    await anyio.sleep(RETRY_SECONDS)
        if scope.cancelled_caught:
            log.error("call %s: its end was never written; its row keeps the CDRs' account", record.call_id)

    async def _end(self, record: CallRecord) -> None:
        assert record.ended_at is not None
        if record.recording_started is not None:
            await self.recordings.recording_ended(
                record.recording_started, notice_finished_at=record.notice_finished_at, joined_at=record.joined_at,
                parts=record.parts, discarded=record.recording is None)
        await self.calls.app_call_ended(record.call_id, answered_at=record.joined_at, ended_at=record.ended_at,
                                        outcome=record.outcome, notice_finished_at=record.notice_finished_at)
