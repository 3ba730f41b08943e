"""CDR recovery from Asterisk's CSV file, against the lab's PostgreSQL: read from where the last read
stopped, a line still being written left for the next read, a rotated file read from its start, and a
CDR received twice stored once."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from asterisk_rec.adapters.db import Database
from asterisk_rec.calls.ingest import CdrIngest
from asterisk_rec.calls.records import FIELDS
from asterisk_rec.calls.store import CallStore
from asterisk_rec.config import CdrSettings, Settings

pytestmark = pytest.mark.anyio


def cdr_line(tag: str, index: int) -> str:
    values = {"Source": "carol-desk", "Destination": "204", "DestinationContext": "lab-phones",
              "Channel": f"PJSIP/carol-desk-{index:08x}", "DestinationChannel": f"PJSIP/dave-desk-{index:08x}",
              "LastApplication": "Dial", "StartTime": "2001-01-01 12:00:00", "AnswerTime": "2001-01-01 12:00:02",
              "EndTime": "2001-01-01 12:00:09", "Disposition": "ANSWERED", "UniqueID": f"{tag}-{index}",
              "LinkedID": f"{tag}-call-{index}", "Sequence": str(index)}
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n").writerow(
        [values.get(header, "") for _, header in FIELDS])
    return out.getvalue()


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    async with Database(settings.database, max_size=2) as database:
        yield database


async def call_rows(db: Database, tag: str) -> int:
    async with db.pool.connection() as conn:
        cursor = await conn.execute("SELECT count(*) FROM calls WHERE linked_id LIKE %s", (f"{tag}-%",))
        row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


async def forget(db: Database, tag: str, path: Path) -> None:
    """Removes a test's CDRs, their call rows and the file's read position."""
    async with db.pool.connection() as conn:
        await conn.execute("DELETE FROM calls WHERE linked_id LIKE %s", (f"{tag}-%",))
        await conn.execute("DELETE FROM cdr_records WHERE linked_id LIKE %s", (f"{tag}-%",))
        await conn.execute("DELETE FROM cdr_csv_positions WHERE path = %s", (str(path),))


async def test_csv_recovery_reads_on_from_where_it_stopped(db: Database, tmp_path: Path) -> None:
    """Three CDRs, then one more and half a line, then the rest of that line, then the file rotated: each
    read stores only what it had not; one call row per CDR; a CDR read twice (the rotated file) counts once."""
    tag = f"csv-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "asterisk-rec.csv"
    ingest = CdrIngest(CallStore(db, frozenset({"lab-trunk"})), CdrSettings(csv_path=str(path)))
    try:
        path.write_text("".join(cdr_line(tag, i) for i in range(3)))
        assert await ingest.recover_from_csv() == 3
        fourth, fifth = cdr_line(tag, 3), cdr_line(tag, 4)
        with path.open("a") as file:
            file.write(fourth + fifth[:20])
        assert await ingest.recover_from_csv() == 1
        with path.open("a") as file:
            file.write(fifth[20:])
        assert await ingest.recover_from_csv() == 1
        assert await ingest.recover_from_csv() == 0
        rotated = tmp_path / "rotated.csv"
        rotated.write_text(cdr_line(tag, 4) + cdr_line(tag, 5))
        rotated.replace(path)
        assert await ingest.recover_from_csv() == 1
        assert await call_rows(db, tag) == 6
    finally:
        await forget(db, tag, path)


async def test_a_cdr_refused_by_postgresql_does_not_block_the_others(db: Database, tmp_path: Path) -> None:
    """A CDR PostgreSQL refuses (a NUL byte in a field) is reported and skipped; the rest of its batch is
    stored."""
    tag = f"bad-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "asterisk-rec.csv"
    ingest = CdrIngest(CallStore(db, frozenset({"lab-trunk"})), CdrSettings(csv_path=str(path)))
    try:
        path.write_text(cdr_line(tag, 0) + cdr_line(tag, 1).replace("Dial", "Di\x00al") + cdr_line(tag, 2))
        assert await ingest.recover_from_csv() == 2
        assert ingest.counts.unreadable == 1
        assert await call_rows(db, tag) == 2
    finally:
        await forget(db, tag, path)
