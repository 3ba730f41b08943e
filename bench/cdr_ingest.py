"""CDR ingest rate: a burst of AMI ``Cdr`` events (as cdr_manager sends them: one call in three with a
second CDR for a parallel-rung device) handed to the service's ingest at once, timed until every one is
a stored CDR and its call row is computed, against PostgreSQL in the lab. Beside it, in the same run, the
floor: the same rows inserted with one executemany and no call rows. The synthetic calls are dated 2001
and deleted afterwards.

    .venv/bin/python -m bench.cdr_ingest --events 5000 20000 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asterisk_rec.adapters.db import Database
from asterisk_rec.calls.ingest import CdrIngest
from asterisk_rec.calls.records import from_ami
from asterisk_rec.calls.store import CallStore
from asterisk_rec.config import CdrSettings, load_settings
from asterisk_rec.lab import LabSettings

START = datetime(2001, 1, 1, tzinfo=UTC)
COLUMNS = ("unique_id", "sequence", "linked_id", "call_id", "source", "destination", "context", "caller_id",
           "channel", "destination_channel", "last_application", "last_data", "started_at", "answered_at",
           "ended_at", "disposition")


def burst(count: int, tag: str) -> list[dict[str, str]]:
    events = []
    for index in range(count):
        call = index - index % 3 if index % 3 == 2 else index  # every third event: a second CDR of a call
        start = START + timedelta(seconds=index)
        answered = index % 3 != 2
        events.append({
            "Event": "Cdr", "AccountCode": "", "Source": "alice-desk", "Destination": "202",
            "DestinationContext": "lab-phones", "CallerID": '"" <alice-desk>',
            "Channel": f"PJSIP/alice-desk-{index:08x}",
            "DestinationChannel": f"PJSIP/bob-desk-{index:08x}", "LastApplication": "Stasis",
            "LastData": "asterisk-rec,call,202,lab", "StartTime": f"{start:%Y-%m-%d %H:%M:%S}",
            "AnswerTime": f"{start + timedelta(seconds=2):%Y-%m-%d %H:%M:%S}" if answered else "",
            "EndTime": f"{start + timedelta(seconds=30):%Y-%m-%d %H:%M:%S}", "Duration": "30",
            "BillableSeconds": "28" if answered else "0", "Disposition": "ANSWERED" if answered else "NO ANSWER",
            "UniqueID": f"{tag}-{index}", "LinkedID": f"{tag}-call-{call}", "Sequence": str(index),
            "AsteriskRecCall": "",
        })
    return events


async def clean(db: Database, tag: str) -> None:
    """The burst's rows removed, and their dead versions with them: each round starts from the same
    tables, not from the dead rows of the rounds before (150 000 of them in a run) until autovacuum comes."""
    async with db.pool.connection() as conn:
        await conn.execute("DELETE FROM calls WHERE linked_id LIKE %s", (f"{tag}-%",))
        await conn.execute("DELETE FROM cdr_records WHERE linked_id LIKE %s", (f"{tag}-%",))
    async with db.pool.connection() as conn:
        await conn.set_autocommit(True)
        await conn.execute("VACUUM ANALYZE cdr_records, calls, call_organisations")
        await conn.set_autocommit(False)


async def through_ingest(db: Database, events: list[dict[str, str]]) -> float:
    ingest = CdrIngest(CallStore(db, frozenset({"lab-trunk"})), CdrSettings())
    started = time.perf_counter()
    for event in events:
        ingest.on_cdr_event(None, event)
    async with asyncio.TaskGroup() as tasks:
        runner = tasks.create_task(ingest.run())
        while ingest.counts.stored < len(events):  # noqa: ASYNC110 (the ingest's counter has no event)
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
        runner.cancel()
    return elapsed


async def plain_insert(db: Database, events: list[dict[str, str]]) -> float:
    records = [from_ami(event, UTC) for event in events]
    started = time.perf_counter()
    async with db.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
        await cur.executemany(
            f"INSERT INTO cdr_records ({', '.join(COLUMNS)}, received_via) VALUES "
            f"({', '.join(['%s'] * (len(COLUMNS) + 1))})",
            [(*(getattr(r, c) for c in COLUMNS), "ami") for r in records])
    return time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, nargs="+", default=[5000, 20000])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    settings = load_settings(env_file=Path(LabSettings.from_environment().env_file))
    print("| CDR events in the burst | ingest (CDRs + call rows), rows/s | floor: plain insert, rows/s | ratio |")
    print("|---|---|---|---|")
    async with Database(settings.database, max_size=4) as db:
        for count in args.events:
            ingest_rates, floor_rates = [], []
            for _ in range(args.rounds):
                tag = f"bench-{uuid.uuid4().hex[:8]}"
                events = burst(count, tag)
                try:
                    ingest_rates.append(count / await through_ingest(db, events))
                finally:
                    await clean(db, tag)
                tag = f"bench-{uuid.uuid4().hex[:8]}"
                try:
                    floor_rates.append(count / await plain_insert(db, burst(count, tag)))
                finally:
                    await clean(db, tag)
            ingest, floor = statistics.median(ingest_rates), statistics.median(floor_rates)
            print(f"| {count} | {ingest:.0f} | {floor:.0f} | {ingest / floor:.2f} |")


if __name__ == "__main__":
    asyncio.run(main())
