"""What the app writes down about the calls it runs, and when: a call before anyone rings, a recording
before it starts, its parts as they change, both completed when the call ends, and the finished
recording handed to the archive. Everything goes into the local journal first (synced, no network in
the call's path) and is replayed from there into PostgreSQL, in order, whenever PostgreSQL takes it."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import anyio
import psycopg

from asterisk_rec.archive.records import RecordingStore
from asterisk_rec.archive.worker import Archiver
from asterisk_rec.callflow import entries
from asterisk_rec.callflow.call import CallRecord
from asterisk_rec.callflow.journal import Entry, Journal, JournalError, Pending
from asterisk_rec.callflow.recording import Recording
from asterisk_rec.calls.store import CallStore, CallWrites
from asterisk_rec.calls.summary import AppCall
from asterisk_rec.completeness.model import Coverage
from asterisk_rec.jobs.supervisor import describe

log = logging.getLogger(__name__)

# While PostgreSQL is away the replay tries again this often, at most.
REPLAY_RETRY_MAX_SECONDS = 5.0
# With nothing new, the journal is looked at again after this long anyway.
REPLAY_IDLE_SECONDS = 5.0
# Once something new is written, what else comes this soon joins it: one transaction (and each call's row
# computed once) for the many entries of a burst, where each would otherwise be its own.
REPLAY_GATHER_SECONDS = 0.5


class CallLedger:
    def __init__(self, calls: CallStore, recordings: RecordingStore, archiver: Archiver, task_group: Any,
                 journal: Journal) -> None:
        self.calls = calls
        self.recordings = recordings
        self.archiver = archiver
        self.task_group = task_group
        self.journal = journal
        # PostgreSQL away since (monotonic time), for one warning and one all-clear per outage.
        self.database_away_since: float | None = None

    async def call_started(self, call: AppCall) -> None:
        """Raises if it cannot be written (the journal's disk failing): the call is then not taken on (the
        dialplan's fail mode)."""
        await self.journal.append(entries.CALL_STARTED, entries.call_started(call))

    async def recording_starting(self, name: str, call_id: str, organisation_id: int, owners: tuple[int, ...],
                                 started_at: datetime) -> None:
        """Never raises: a recording that could not be written down is still made, and the archive adopts
        it (its name carries the organisation and call)."""
        self.archiver.hold(name)
        try:
            await self.journal.append(entries.RECORDING_STARTED,
                                      entries.recording_started(name, call_id, organisation_id, owners, started_at))
        except JournalError as err:
            log.error("recording %s of call %s: cannot write it down (%s); recording anyway", name, call_id, err)

    def parts_changed(self, recording: Recording) -> None:
        """Keeps the recorded parts on the row as they change (a restarted service takes them up again);
        queued now, so they stay in order with the call's end."""
        self._in_background(self.journal.add(entries.PARTS, entries.parts_entry(recording)))

    def call_ended(self, record: CallRecord) -> None:
        self._in_background(self.journal.add(entries.CALL_ENDED, entries.call_ended(record)))

    def _in_background(self, pending: Pending) -> None:
        self.task_group.start_soon(self._written, pending)

    async def _written(self, pending: Pending) -> None:
        try:
            await self.journal.written(pending)
        except JournalError as err:
            log.error("cannot write down %s: %s", pending.kind, err)

    async def covered(self, name: str) -> Coverage:
        """The parts recorded so far (after a restart), with what they were required to cover: the newest
        the journal still holds for PostgreSQL, else those on the recording's row; none if neither can be
        read."""
        try:
            waiting = await self.journal.latest(entries.PARTS, name)
            if waiting is not None:
                return entries.covered(waiting.payload)
            return await self.recordings.covered(name)
        except Exception as err:
            log.warning("recording %s: cannot read its parts so far (%s)", name, err)
            return Coverage([])

    def hold(self, name: str) -> None:
        self.archiver.hold(name)

    def recording_finished(self, name: str, *, keep: bool) -> None:
        self.archiver.release(name, archive=keep)

    # From the journal into PostgreSQL

    async def replay(self) -> None:
        """Runs for the service's lifetime: every entry into PostgreSQL once, in order; waits while
        PostgreSQL is away. An entry PostgreSQL refuses for its content is set aside, logged, not retried."""
        delay = 0.5
        while True:
            wake = self.journal.appended = anyio.Event()
            batch = await self.journal.pending()
            if not batch:
                with anyio.move_on_after(REPLAY_IDLE_SECONDS):
                    await wake.wait()
                    await anyio.sleep(REPLAY_GATHER_SECONDS)
                continue
            try:
                await self._apply_all(batch)
            except Exception as err:
                if self.database_away_since is None:
                    self.database_away_since = anyio.current_time()
                    log.error("cannot write the calls down in PostgreSQL (%s): they wait in the journal %s",
                              describe(err), self.journal.path)
                await anyio.sleep(delay)
                delay = min(delay * 2, REPLAY_RETRY_MAX_SECONDS)
                continue
            delay = 0.5
            if self.database_away_since is not None:
                log.warning("all clear: PostgreSQL takes the calls again after %.0f s",
                            anyio.current_time() - self.database_away_since)
                self.database_away_since = None

    async def _apply_all(self, batch: list[Entry]) -> None:
        """The batch in one transaction (each call's row computed once, at its end); if PostgreSQL refuses
        an entry, the batch again one entry at a time, to set that one aside and apply the others."""
        try:
            async with self.calls.writing() as writes:
                for entry in batch:
                    await self._apply(entry, writes)
        except (psycopg.DataError, psycopg.IntegrityError):
            await self._apply_one_by_one(batch)
            return
        await self.journal.done([entry.seq for entry in batch])

    async def _apply_one_by_one(self, batch: list[Entry]) -> None:
        applied: list[int] = []
        try:
            for entry in batch:
                try:
                    async with self.calls.writing() as writes:
                        await self._apply(entry, writes)
                except (psycopg.DataError, psycopg.IntegrityError) as err:
                    log.error("journal entry %d (%s) refused by PostgreSQL, set aside: %s", entry.seq, entry.kind,
                              err)
                    await self.journal.refuse(entry, str(err))
                    continue
                applied.append(entry.seq)
        finally:
            if applied:
                await self.journal.done(applied)

    async def _apply(self, entry: Entry, writes: CallWrites) -> None:
        payload = entry.payload
        if entry.kind == entries.CALL_STARTED:
            await writes.app_call_started(entries.app_call(payload))
        elif entry.kind == entries.RECORDING_STARTED:
            started_at = entries.time_of(payload, "started_at")
            assert started_at is not None
            await self.recordings.recording_started(payload["name"], payload["call_id"], payload["organisation_id"],
                                                    tuple(payload["owners"]), started_at, writes.conn)
        elif entry.kind == entries.PARTS:
            await self.recordings.parts_changed(payload["name"], entries.covered(payload), writes.conn)
        elif entry.kind == entries.CALL_ENDED:
            if payload["recording"] is not None:
                await self.recordings.recording_ended(
                    payload["recording"], notice_finished_at=entries.time_of(payload, "notice_finished_at"),
                    joined_at=entries.time_of(payload, "joined_at"), discarded=payload["discarded"],
                    failed=payload.get("failed", False),
                    covered=entries.covered(payload), required_until=entries.time_of(payload, "required_until"),
                    conn=writes.conn)
            ended_at = entries.time_of(payload, "ended_at")
            assert ended_at is not None
            await writes.app_call_ended(payload["call_id"], answered_at=entries.time_of(payload, "joined_at"),
                                        ended_at=ended_at, outcome=entries.outcome(payload),
                                        notice_finished_at=entries.time_of(payload, "notice_finished_at"),
                                        transfers=entries.transfers_in(payload))
        else:
            log.error("journal entry %d of an unknown kind %r: set aside", entry.seq, entry.kind)
            await self.journal.refuse(entry, "unknown kind")
