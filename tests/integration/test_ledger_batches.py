"""The journal's entries go into PostgreSQL a batch per transaction, the rows of the calls they touch
computed at its end; an entry PostgreSQL refuses is set aside alone and the rest of its batch still goes in.
Against the lab's PostgreSQL, with synthetic calls dated 2001 (no other test's window) removed afterwards."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest

from asterisk_rec.adapters.db import Database
from asterisk_rec.archive.records import RecordingStore
from asterisk_rec.callflow import entries
from asterisk_rec.callflow.journal import Journal
from asterisk_rec.callflow.ledger import CallLedger
from asterisk_rec.calls.store import CallStore, CallWrites
from asterisk_rec.calls.summary import AppCall, Direction
from asterisk_rec.config import Settings

pytestmark = pytest.mark.anyio

START = datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)


class NoArchive:
    """The replay never hands anything to the archive: a stand-in that says so if it does."""

    def hold(self, name: str) -> None:
        raise AssertionError(f"the replay held {name}")

    def release(self, name: str, archive: bool) -> None:
        raise AssertionError(f"the replay released {name}")


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    async with Database(settings.database, max_size=2) as database:
        yield database


def call(tag: str, number: int, caller_user_id: int | None = None) -> AppCall:
    return AppCall(call_id=f"{tag}{number}", linked_id=f"{tag}-linked-{number}", direction=Direction.INTERNAL,
                   caller="201", callee="202", caller_user_id=caller_user_id, callee_user_id=None,
                   organisation_ids=(), started_at=START + timedelta(seconds=number))


async def test_a_refused_entry_is_set_aside_and_the_rest_of_its_batch_goes_in(db: Database, tmp_path: Path) -> None:
    """Three calls started and one ended in one batch, the third call's entry with a user id PostgreSQL
    cannot store: the other two have their app records and call rows (the ended one with its end), the
    third is in the journal's refused table with PostgreSQL's reason, and nothing is left pending."""
    tag = uuid.uuid4().hex[:12]
    journal = Journal(tmp_path / "journal.sqlite3").open()
    ledger = CallLedger(CallStore(db, frozenset()), RecordingStore(db), NoArchive(), None,  # type: ignore[arg-type]
                        journal)
    first, second, bad = call(tag, 1), call(tag, 2), call(tag, 3, caller_user_id=2**70)
    for started in (first, second, bad):
        await journal.append(entries.CALL_STARTED, entries.call_started(started))
    await journal.append(entries.CALL_ENDED, {
        "call_id": first.call_id, "recording": None, "discarded": True, "notice_finished_at": None,
        "joined_at": (START + timedelta(seconds=3)).isoformat(), "ended_at": (START + timedelta(seconds=9)).isoformat(),
        "outcome": "ANSWER", "parts": [], "transfers": []})
    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(ledger.replay)
            with anyio.fail_after(20):
                while journal.count():  # noqa: ASYNC110 (the journal has no event for emptied)
                    await anyio.sleep(0.05)
            tasks.cancel_scope.cancel()
        async with db.pool.connection() as conn:
            cursor = await conn.execute("SELECT linked_id, ended_at FROM calls WHERE linked_id LIKE %s ORDER BY 1",
                                        (f"{tag}-%",))
            rows = await cursor.fetchall()
        assert rows == [(first.linked_id, START + timedelta(seconds=9)), (second.linked_id, None)]
        with sqlite3.connect(journal.path) as sqlite:
            refused = sqlite.execute("SELECT kind, payload, error FROM refused").fetchall()
        assert len(refused) == 1 and refused[0][0] == entries.CALL_STARTED
        assert bad.call_id in refused[0][1] and "out of range" in refused[0][2]
    finally:
        journal.close()
        async with db.pool.connection() as conn:
            await conn.execute("DELETE FROM calls WHERE linked_id LIKE %s", (f"{tag}-%",))
            await conn.execute("DELETE FROM app_calls WHERE linked_id LIKE %s", (f"{tag}-%",))


class CountingStore(CallStore):
    """The lab's call store, counting its transactions."""

    transactions = 0

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[CallWrites]:
        self.transactions += 1
        async with super().writing() as writes:
            yield writes


async def test_entries_written_close_together_go_in_together(db: Database, tmp_path: Path) -> None:
    """Five calls starting 20 ms apart (a burst) after a quiet spell go into PostgreSQL in one transaction,
    two at most (the first may be read alone if it came as the replay looked), not one each."""
    tag = uuid.uuid4().hex[:12]
    journal = Journal(tmp_path / "journal.sqlite3").open()
    store = CountingStore(db, frozenset())
    ledger = CallLedger(store, RecordingStore(db), NoArchive(), None, journal)  # type: ignore[arg-type]
    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(ledger.replay)
            for number in range(5):
                await journal.append(entries.CALL_STARTED, entries.call_started(call(tag, number)))
                await anyio.sleep(0.02)
            with anyio.fail_after(20):
                while journal.count():  # noqa: ASYNC110 (the journal has no event for emptied)
                    await anyio.sleep(0.05)
            tasks.cancel_scope.cancel()
        async with db.pool.connection() as conn:
            cursor = await conn.execute("SELECT count(*) FROM app_calls WHERE linked_id LIKE %s", (f"{tag}-%",))
            assert await cursor.fetchone() == (5,)
        assert 1 <= store.transactions <= 2
    finally:
        journal.close()
        async with db.pool.connection() as conn:
            await conn.execute("DELETE FROM calls WHERE linked_id LIKE %s", (f"{tag}-%",))
            await conn.execute("DELETE FROM app_calls WHERE linked_id LIKE %s", (f"{tag}-%",))
