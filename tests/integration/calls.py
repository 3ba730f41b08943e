"""Shared steps of the end-to-end call tests: what the service wrote down (call rows, archived
recordings), what Asterisk has left, and what the recordings hold."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import psycopg
from psycopg.rows import dict_row

from asterisk_rec.adapters.ari import AriRest
from asterisk_rec.adapters.db import Database
from asterisk_rec.testing.tones import SILENCE_RMS, Audio, read_audio, tone_share, tone_windows, windows

CALLER_HZ, CALLEE_HZ = 700, 1300
TARGET_HZ = 1900  # a third party: a transfer's target
RING_HZ = (440, 480)


@dataclass(frozen=True)
class Snapshot:
    """What was written down before a test's calls: the stored recordings, and the time (to the second, as
    CDRs have it) from which calls are the test's."""

    stored: frozenset[str]
    since: datetime


class Records:
    """What the service wrote down, read back: call rows from PostgreSQL, recordings from the archive."""

    def __init__(self, db: Database, archive_root: Path) -> None:
        self.db = db
        self.archive_root = archive_root

    async def rows(self, query: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        for attempt in range(3):
            try:
                async with self.db.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
                    await cur.execute(query, params)
                    return await cur.fetchall()
            except psycopg.OperationalError:
                # A test that restarted PostgreSQL broke the pool's connections: the pool replaces them.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def snapshot(self) -> Snapshot:
        rows = await self.rows("SELECT name FROM recordings WHERE state = 'stored'")
        return Snapshot(frozenset(r["name"] for r in rows), datetime.now(UTC).replace(microsecond=0))

    async def stored_since(self, before: Snapshot) -> list[dict[str, Any]]:
        rows = await self.rows("SELECT * FROM recordings WHERE state = 'stored' AND started_at >= %s",
                                (before.since,))
        return [r for r in rows if r["name"] not in before.stored]

    async def new_recording(self, before: Snapshot, linked_to: dict[str, Any] | None = None,
                            within: float = 20) -> Audio:
        """The one recording archived since ``before`` (the one of the call row ``linked_to``, by its call
        id): its file hashes to the recorded SHA-256."""
        with anyio.fail_after(within):
            while not (made := await self.stored_since(before)):  # noqa: ASYNC110
                await anyio.sleep(0.2)
        assert len(made) == 1, f"expected one recording of the call, got {[r['name'] for r in made]}"
        if linked_to is not None:
            assert made[0]["call_id"] == linked_to["call_id"], f"{made[0]['name']} is not linked to {linked_to}"
        return await anyio.to_thread.run_sync(self.verified_audio, made[0])

    def verified_audio(self, row: dict[str, Any]) -> Audio:
        path = self.archive_root / row["path"]
        data = path.read_bytes()
        assert hashlib.sha256(data).hexdigest() == row["sha256"], f"{path} does not match its SHA-256"
        assert len(data) == row["size_bytes"]
        return read_audio(path)

    async def assert_no_recording(self, before: Snapshot, wait: float = 2) -> None:
        """For ``wait`` seconds, watches for a recording (other than discarded) made since ``before``, and
        fails as soon as one appears, a late one included."""
        with anyio.move_on_after(wait):
            while True:
                rows = await self.rows("SELECT name, state FROM recordings WHERE started_at >= %s"
                                       " AND state <> 'discarded'", (before.since,))
                assert not [r for r in rows if r["name"] not in before.stored], f"recordings made: {rows}"
                await anyio.sleep(0.1)

    async def chain(self, row: dict[str, Any], count: int = 1, within: float = 10) -> list[dict[str, Any]]:
        """The call's transfers, forwardings and pickups in order, once ``count`` of them are written."""
        with anyio.fail_after(within):
            while len(found := await self.rows(  # noqa: ASYNC110 (written by the service)
                    "SELECT * FROM call_transfers WHERE call_id = %s ORDER BY seq", (row["call_id"],))) < count:
                await anyio.sleep(0.2)
        return found

    async def calls_since(self, before: Snapshot) -> list[dict[str, Any]]:
        """The call rows started since ``before``, but for the channels the ARI tests originate themselves
        (their ids start with ``test-``): probes, not calls, whose CDRs may come in later (the CSV copy is
        read every minute), so a test counting calls in the same second counts only its own."""
        return await self.rows("SELECT * FROM calls WHERE started_at >= %s AND linked_id NOT LIKE 'test-%%'"
                                " ORDER BY started_at, id", (before.since,))

    async def _calls_when(self, before: Snapshot, ready: Callable[[list[dict[str, Any]]], bool],
                          within: float) -> list[dict[str, Any]]:
        """The call rows since ``before`` once ``ready`` says so, or as they are after ``within`` seconds."""
        rows: list[dict[str, Any]] = []
        with anyio.move_on_after(within):
            while not ready(rows := await self.calls_since(before)):  # noqa: ASYNC110 (rows are polled)
                await anyio.sleep(0.3)
        return rows

    async def one_call(self, before: Snapshot, within: float = 20, talk_seconds: float | None = None,
                       **expected: str) -> dict[str, Any]:
        """Waits for exactly one call row since ``before``, complete (its CDRs in) and as ``expected``
        (e.g. caller="201", disposition="answered"), with its times in order and, if ``talk_seconds`` is
        given, answered for that long (CDR times are whole seconds: within 2 s)."""
        rows = await self._calls_when(
            before, lambda r: len(r) == 1 and r[0]["source"] == "cdr" and _matches(r[0], expected), within)
        assert len(rows) == 1, f"expected one call row, got {len(rows)}: {rows}"
        row = rows[0]
        assert row["source"] == "cdr", f"the call's CDR never arrived: {row}"
        assert _matches(row, expected), f"expected {expected}, got {row}"
        assert row["ended_at"] is not None and row["started_at"] <= row["ended_at"]
        if row["disposition"] == "answered":
            assert row["started_at"] <= row["answered_at"] <= row["ended_at"], row
            talked = (row["ended_at"] - row["answered_at"]).total_seconds()
            assert talk_seconds is None or abs(talked - talk_seconds) <= 2, f"answered {talked} s: {row}"
        else:
            assert row["answered_at"] is None, row
        return row

    async def wait_for_calls(self, before: Snapshot, count: int, within: float = 20) -> list[dict[str, Any]]:
        """Exactly ``count`` call rows since ``before``, each with its CDRs in."""
        rows = await self._calls_when(
            before, lambda r: len(r) == count and all(row["source"] == "cdr" for row in r), within)
        assert len(rows) == count and all(r["source"] == "cdr" for r in rows), f"expected {count} calls: {rows}"
        return rows


def _matches(row: dict[str, Any], expected: dict[str, str]) -> bool:
    return all(row[key] == value for key, value in expected.items())


async def assert_nothing_left(ari: AriRest, within: float = 10) -> None:
    """After the call: no channels and no bridges in Asterisk (live recordings end with their channel)."""
    deadline = time.monotonic() + within
    while True:
        channels = (await ari.request("GET", "channels")).json()
        bridges = (await ari.request("GET", "bridges")).json()
        if not channels and not bridges:
            return
        if time.monotonic() > deadline:
            left = [f"channel {c['name']} ({c['state']}, {c.get('dialplan', {})})" for c in channels]
            left += [f"bridge {b['id']} with {b.get('channels')}" for b in bridges]
            raise AssertionError(f"left in Asterisk {within:g} s after the call: {'; '.join(left)}")
        await anyio.sleep(0.2)


def assert_both_tones(audio: Audio) -> None:
    """Each party's tone fills at least 98 % of the recording's 100 ms windows, from its first window on."""
    for frequency in (CALLER_HZ, CALLEE_HZ):
        flags = tone_windows(audio, frequency)
        assert True in flags, f"{frequency} Hz is not in the recording"
        start = flags.index(True)
        assert start <= 1, f"{frequency} Hz starts only {start * 100} ms in"
        # (A party joining within the first window is not a hole: it was not heard yet.)
        coverage = sum(flags[start:]) / len(flags[start:])
        assert coverage >= 0.98, f"{frequency} Hz in {coverage:.1%} of {len(flags) - start} windows from its first"


def speech_windows(audio: Audio) -> list[bool]:
    """Windows with sound that is none of the test tones nor ringing: the notice."""
    tones = (CALLER_HZ, CALLEE_HZ, TARGET_HZ, *RING_HZ)
    flags = []
    for window in windows(audio):
        loud = (sum(x * x for x in window) / len(window)) ** 0.5 >= SILENCE_RMS
        flags.append(loud and all(tone_share(window, audio.rate, f) < 0.2 for f in tones))
    return flags


def assert_notice_before_tone(heard: Audio, tone_hz: int) -> None:
    """What a phone heard: the notice (at least a second of speech), which ends before the other
    party's tone begins."""
    tone = tone_windows(heard, tone_hz)
    # The tone's start: its first three windows in a row (a vowel of the notice may hold a window of it).
    starts = [i for i in range(len(tone) - 2) if tone[i] and tone[i + 1] and tone[i + 2]]
    assert starts, f"the phone never heard {tone_hz} Hz"
    first_tone = starts[0]
    speech = speech_windows(heard)
    assert sum(speech[:first_tone]) >= 10, f"only {sum(speech[:first_tone])} windows of notice before the tone"
    late = [i for i, s in enumerate(speech) if s and i > first_tone]
    assert not late, f"notice-like sound after the tone began, at windows {late[:5]}"
