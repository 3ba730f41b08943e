"""CDRs into call rows: AMI ``Cdr`` events as they come, and Asterisk's CSV copy of the same CDRs read
incrementally (at every AMI login and every ``csv_every_seconds``) for those AMI never delivered. A CDR
arriving both ways is stored once. While PostgreSQL is away, received CDRs wait in memory and are written
when it is back."""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import psycopg
from anyio.streams.memory import MemoryObjectReceiveStream

from asterisk_rec.calls.records import CdrRecord, from_ami, from_csv
from asterisk_rec.calls.store import CallStore
from asterisk_rec.config import CdrSettings
from asterisk_rec.errors import InvalidInput
from asterisk_rec.health.durations import SLOW, Durations

log = logging.getLogger(__name__)

# CDRs written in one transaction at most.
BATCH = 500
# The CDRs that come this soon after one are written with it (a burst's calls end together): one
# transaction, and each call's row computed once, for many.
GATHER_SECONDS = 0.5
# The CSV file is read this much at a time (years of CDRs are never read into memory at once).
CSV_CHUNK = 4 << 20
# How long to wait before writing again after PostgreSQL failed.
RETRY_SECONDS = 2.0


@dataclass
class IngestCounts:
    received: int = 0
    stored: int = 0
    recovered_from_csv: int = 0
    unreadable: int = 0
    write_failures: int = 0


class CdrIngest:
    def __init__(self, store: CallStore, settings: CdrSettings) -> None:
        self.store = store
        self.zone = ZoneInfo(settings.time_zone)
        self.csv_path = Path(settings.csv_path) if settings.csv_path else None
        self.csv_every = settings.csv_every_seconds
        self.counts = IngestCounts()
        self.lag = Durations(SLOW)
        self._send, self._receive = anyio.create_memory_object_stream[CdrRecord](max_buffer_size=math.inf)
        self._csv_due = anyio.Event()

    def on_cdr_event(self, manager: Any, event: Mapping[str, str]) -> None:
        """panoramisk's callback for ``Cdr`` events (runs in the event loop)."""
        try:
            record = from_ami(event, self.zone)
        except InvalidInput as err:
            self.counts.unreadable += 1
            log.error("CDR event not understood: %s", err)
            return
        self.counts.received += 1
        self._send.send_nowait(record)

    def on_ami_login(self) -> None:
        """After a (re)login: CDRs sent while AMI was down are only in the file; read it now."""
        self._csv_due.set()

    async def run(self) -> None:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(self._write_received, self._receive)
            if self.csv_path is not None:
                tasks.start_soon(self._read_csv_regularly)

    async def _write_received(self, receive: MemoryObjectReceiveStream[CdrRecord]) -> None:
        in_a_burst = False
        async for first in receive:
            # A full batch waiting, or one just written (a burst's end), goes at once.
            if not in_a_burst and receive.statistics().current_buffer_used < BATCH - 1:
                await anyio.sleep(GATHER_SECONDS)
            batch = [first]
            while len(batch) < BATCH:
                try:
                    batch.append(receive.receive_nowait())
                except anyio.WouldBlock:
                    break
            in_a_burst = len(batch) == BATCH
            await self._store(batch, "ami")

    async def _store(self, batch: list[CdrRecord], via: str) -> int:
        """Writes ``batch``, retrying until PostgreSQL takes it: a received CDR is not dropped."""
        failed_since: float | None = None
        while True:
            try:
                new = await self.store.add_cdrs(batch, via)
            except (psycopg.DataError, psycopg.IntegrityError) as err:
                if len(batch) > 1:
                    # Find the one PostgreSQL refuses; the others go in.
                    return sum([await self._store([record], via) for record in batch])
                self.counts.unreadable += 1
                log.error("CDR refused by PostgreSQL, not stored (%s): %s", err, batch[0])
                return 0
            except Exception as err:
                self.counts.write_failures += 1
                if failed_since is None:
                    failed_since = anyio.current_time()
                    log.error("cannot store %d CDRs (%s): retrying every %g s", len(batch), err, RETRY_SECONDS)
                await anyio.sleep(RETRY_SECONDS)
                continue
            if failed_since is not None:
                log.info("stored %d CDRs after %.0f s of failures", len(batch), anyio.current_time() - failed_since)
            self.counts.stored += new
            # How late the rows are (an hour's recovery from the file included): from each call's end.
            stored_at = datetime.now(UTC)
            for record in batch:
                self.lag.observe((stored_at - record.ended_at).total_seconds())
            return new

    async def _read_csv_regularly(self) -> None:
        while True:
            try:
                await self.recover_from_csv()
            except Exception:
                log.exception("reading CDRs from %s failed; trying again later", self.csv_path)
            with anyio.move_on_after(self.csv_every):
                await self._csv_due.wait()
            self._csv_due = anyio.Event()

    async def recover_from_csv(self) -> int:
        """Stores the CDRs in the file beyond where the last read ended (the whole file if it is new or was
        rotated), a chunk at a time; returns how many were not stored yet."""
        assert self.csv_path is not None
        path = str(self.csv_path)
        try:
            stat = await anyio.Path(self.csv_path).stat()
        except FileNotFoundError:
            return 0
        saved = await self.store.csv_position(path)
        position = saved[1] if saved and saved[0] == stat.st_ino and saved[1] <= stat.st_size else 0
        new = 0
        while True:
            records, end = await anyio.to_thread.run_sync(self._read_csv, position)
            for index in range(0, len(records), BATCH):
                new += await self._store(records[index:index + BATCH], "csv")
            if end == position:
                break
            position = end
            await self.store.save_csv_position(path, stat.st_ino, position)
        if new:
            self.counts.recovered_from_csv += new
            log.warning("recovered %d CDRs from %s that AMI did not deliver", new, path)
        return new

    def _read_csv(self, start: int) -> tuple[list[CdrRecord], int]:
        """The complete lines of the next chunk from byte ``start`` on (a line still being written waits for
        the next read)."""
        assert self.csv_path is not None
        with open(self.csv_path, "rb") as file:
            file.seek(start)
            data = file.read(CSV_CHUNK)
        complete = data[:data.rfind(b"\n") + 1]
        records = []
        for row in csv.reader(complete.decode("utf-8", errors="replace").splitlines()):
            try:
                records.append(from_csv(row, self.zone))
            except InvalidInput as err:
                self.counts.unreadable += 1
                log.error("CDR line in %s not understood: %s", self.csv_path, err)
        return records, start + len(complete)
