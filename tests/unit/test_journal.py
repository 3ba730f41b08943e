"""The local journal (a real SQLite file in a temporary directory) and its entries' codec."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest

from asterisk_rec.callflow import entries
from asterisk_rec.callflow.call import CallRecord
from asterisk_rec.callflow.journal import Journal, JournalError
from asterisk_rec.callflow.recording import Recording, RecordingState
from asterisk_rec.calls.summary import AppCall, Direction
from asterisk_rec.policy import DialStatus

pytestmark = pytest.mark.anyio
T0 = datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=UTC)


async def test_entries_come_back_in_the_order_they_were_added_and_survive_a_reopen(tmp_path: Path) -> None:
    """Entries added together (several writers at once) are written in the order of ``add``, synced; a new
    process opening the file finds them; ``done`` takes them out, ``refuse`` sets one aside."""
    journal = Journal(tmp_path / "j" / "journal.sqlite3").open()
    async with anyio.create_task_group() as tasks:
        for n in range(50):
            tasks.start_soon(journal.written, journal.add("parts", {"n": n, "text": "ünï\u2028💬"}))
    journal.close()
    again = Journal(tmp_path / "j" / "journal.sqlite3").open()
    found = await again.pending(limit=100)
    assert [e.payload["n"] for e in found] == list(range(50))
    assert found[0].payload["text"] == "ünï\u2028💬"
    await again.done([e.seq for e in found[:10]])
    await again.refuse(found[10], "a constraint")
    assert [e.payload["n"] for e in await again.pending()] == list(range(11, 50))
    assert again.count() == 39


async def test_a_journal_that_cannot_be_written_says_so(tmp_path: Path) -> None:
    """A journal whose place is not a directory cannot be opened: a clear error naming the setting."""
    (tmp_path / "file").write_text("")
    with pytest.raises(JournalError, match=r"service\.journal"):
        Journal(tmp_path / "file" / "journal.sqlite3").open()


def test_a_call_and_its_end_survive_the_codec() -> None:
    """What the ledger writes down comes back as it was: times to the microsecond, enums, parts."""
    call = AppCall(call_id="a" * 20, linked_id="1764581415.42", direction=Direction.INBOUND, caller="+31201110000",
                   callee="201", caller_user_id=None, callee_user_id=7, organisation_ids=(1, 3), started_at=T0)
    assert entries.app_call(entries.call_started(call)) == call
    recording = Recording("asterisk-rec/1/x", 1, "a" * 20, RecordingState.DISCARDED,
                          parts=[[T0, T0 + timedelta(seconds=4)], [T0, None]])
    record = CallRecord(call_id="a" * 20, caller_channel="c", recording=recording,
                        outcome=DialStatus.ANSWER, notice_finished_at=T0, joined_at=T0 + timedelta(seconds=1),
                        ended_at=T0 + timedelta(seconds=9))
    payload = entries.call_ended(record)
    assert payload["recording"] == "asterisk-rec/1/x"
    assert payload["discarded"] is True and entries.outcome(payload) is DialStatus.ANSWER
    assert entries.parts_in(payload["parts"]) == recording.parts
    assert entries.time_of(payload, "ended_at") == record.ended_at


async def test_the_newest_waiting_parts_of_a_recording_are_found(tmp_path: Path) -> None:
    """After a restart with PostgreSQL away, the parts of an adopted call come from the journal: the newest
    entry for that recording, not another recording's."""
    journal = Journal(tmp_path / "journal.sqlite3").open()
    for name, n in (("asterisk-rec/1/a", 1), ("asterisk-rec/1/b", 2), ("asterisk-rec/1/a", 3)):
        await journal.append(entries.PARTS, {"name": name, "parts": [[T0.isoformat(), None]] * n})
    found = await journal.latest(entries.PARTS, "asterisk-rec/1/a")
    assert found is not None and len(found.payload["parts"]) == 3
    assert await journal.latest(entries.PARTS, "asterisk-rec/1/c") is None
