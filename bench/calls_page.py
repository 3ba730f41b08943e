"""Reports > Calls at scale: 1,000,000 call rows across 50 organisations (the largest with 400,000, the
others about 12,000 each; 20 users each; 30 % recorded; a year of calls), in a database of their own on
the lab's PostgreSQL. For the largest organisation, the first page and page 500 (25 rows a page) of:
no filter, one month, one user, a number substring, recorded only; p50/p95 over the rounds of the very
SQL the portal and the API run. Side by side in the same run: the same queries without the index the
portal brings (`call_organisations_page`, migration 006), the schema's other indexes kept.

    sudo .venv/bin/python -m bench.calls_page --rounds 30

Needs root (it makes the database as PostgreSQL's superuser inside the lab) and the lab up.
"""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
from psycopg.conninfo import make_conninfo

from asterisk_rec.calls.query import CallQuery, page_sql
from asterisk_rec.config import load_settings
from asterisk_rec.lab import Lab, LabSettings
from asterisk_rec.store.migrate import available
from bench.load import percentile

DATABASE = "asterisk_rec_bench"
ZONE = ZoneInfo("Europe/Amsterdam")
CALLS, BIG, ORGANISATIONS, USERS = 1_000_000, 400_000, 50, 20
PAGE_INDEX = "call_organisations_page"

FILL = [
    f"INSERT INTO organisations (name) SELECT 'bench-' || lpad(i::text, 2, '0')"
    f" FROM generate_series(0, {ORGANISATIONS - 1}) i",
    f"INSERT INTO users (organisation_id, extension, name) SELECT o.id, (200 + u)::text, 'User ' || u"
    f" FROM organisations o, generate_series(0, {USERS - 1}) u",
    # One row a call: its organisation (the first holds BIG calls), its direction and parties by chance.
    f"""CREATE TABLE bench_gen AS SELECT n,
        (SELECT id FROM organisations WHERE name = 'bench-' || lpad((CASE WHEN n <= {BIG} THEN 0
            ELSE 1 + n % {ORGANISATIONS - 1} END)::text, 2, '0')) AS org_id,
        random() AS kind, floor(random() * {USERS})::int AS a, floor(random() * {USERS})::int AS b,
        '+316' || lpad(floor(random() * 1e8)::bigint::text, 8, '0') AS outside, random() < 0.3 AS recorded,
        now() - random() * interval '365 days' AS started_at
        FROM generate_series(1, {CALLS}) n""",
    """INSERT INTO calls (linked_id, call_id, direction, caller, callee, caller_user_id, callee_user_id,
        started_at, answered_at, ended_at, disposition, source)
        SELECT 'bench-' || g.n, lpad(to_hex(g.n), 20, '0'),
            CASE WHEN g.kind < 0.4 THEN 'internal' WHEN g.kind < 0.7 THEN 'inbound' ELSE 'outbound' END,
            CASE WHEN g.kind < 0.7 AND g.kind >= 0.4 THEN g.outside ELSE ua.extension END,
            CASE WHEN g.kind >= 0.7 THEN g.outside ELSE ub.extension END,
            CASE WHEN g.kind < 0.4 OR g.kind >= 0.7 THEN ua.id END,
            CASE WHEN g.kind < 0.7 THEN ub.id END,
            g.started_at, g.started_at + interval '5 s', g.started_at + interval '95 s', 'answered', 'cdr'
        FROM bench_gen g
        JOIN users ua ON ua.organisation_id = g.org_id AND ua.extension = (200 + g.a)::text
        JOIN users ub ON ub.organisation_id = g.org_id AND ub.extension = (200 + g.b)::text""",
    """INSERT INTO recordings (call_id, name, organisation_id, state, started_at, format, path, sha256,
        size_bytes, duration_seconds, stored_at)
        SELECT lpad(to_hex(g.n), 20, '0'), 'bench/' || g.n, g.org_id, 'stored', g.started_at, 'mp3',
            g.org_id || '/' || g.n || '.mp3', repeat('0', 64), 180000, 90, g.started_at + interval '100 s'
        FROM bench_gen g WHERE g.recorded""",
    """INSERT INTO call_organisations (call_id, organisation_id, started_at, direction, caller, callee,
        caller_user_id, callee_user_id, recorded)
        SELECT c.id, g.org_id, c.started_at, c.direction, c.caller, c.callee, c.caller_user_id,
            c.callee_user_id, g.recorded
        FROM calls c JOIN bench_gen g ON c.linked_id = 'bench-' || g.n""",
    "DROP TABLE bench_gen",
]


def psql(sql: str, lab: Lab, port: int) -> None:
    subprocess.run(["chroot", str(lab.rootfs.path), "su", "postgres", "-c",
                    f"psql -q -p {port} -v ON_ERROR_STOP=1 -c \"{sql}\""], check=True, capture_output=True)


@dataclass
class Case:
    name: str
    query: CallQuery


@dataclass
class Result:
    case: str
    page: int
    indexed: bool
    p50_ms: float
    p95_ms: float
    rows: int


def cases(user_id: int) -> list[Case]:
    today = date.today()
    month = today.replace(day=1) - timedelta(days=1)
    return [Case("no filter", CallQuery()),
            Case("a month", CallQuery(since=month.replace(day=1), until=month)),
            Case("a user", CallQuery(user_id=user_id)),
            Case("a number substring ('12')", CallQuery(number="12")),
            Case("recorded only", CallQuery(recorded_only=True))]


def measure(conn: psycopg.Connection[tuple[object, ...]], organisation_id: int, case: Case, page: int,
            rounds: int) -> tuple[list[float], int]:
    query = dataclasses.replace(case.query, page=page)
    sql, params = page_sql(query, organisation_id, ZONE)
    times, rows = [], 0
    for _ in range(rounds):
        started = time.perf_counter()
        rows = len(conn.execute(sql.encode(), params).fetchall())
        times.append((time.perf_counter() - started) * 1000)
    return times, rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    args = parser.parse_args()
    lab = Lab(LabSettings.from_environment())
    settings = load_settings(env_file=lab.settings.env_file)
    db = settings.database
    psql(f"DROP DATABASE IF EXISTS {DATABASE}", lab, db.port)
    psql(f"CREATE DATABASE {DATABASE} OWNER {db.user}", lab, db.port)
    conninfo = make_conninfo(host=db.host, port=db.port, dbname=DATABASE, user=db.user, password=db.password.reveal())
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            for _name, sql in available():
                conn.execute(sql.encode())
            started = time.monotonic()
            for statement in FILL:
                conn.execute(statement.encode())
            conn.execute(b"VACUUM ANALYZE")
            print(f"filled {CALLS} calls in {time.monotonic() - started:.0f} s")
            big = conn.execute(b"SELECT id FROM organisations WHERE name = 'bench-00'").fetchone()
            assert big is not None
            user = conn.execute(b"SELECT id FROM users WHERE organisation_id = %s AND extension = '200'",
                                (big[0],)).fetchone()
            assert user is not None
            results: list[Result] = []
            for indexed in (True, False):
                if not indexed:
                    conn.execute(f"DROP INDEX {PAGE_INDEX}".encode())
                    conn.execute(b"ANALYZE call_organisations")
                for case in cases(int(user[0])):
                    for page in (1, 500):
                        times, rows = measure(conn, int(big[0]), case, page, args.rounds)
                        results.append(Result(case.name, page, indexed, percentile(times, 0.5),
                                              percentile(times, 0.95), rows))
                        print(f"{'indexed' if indexed else 'no index':<9} {case.name:<26} page {page:<4}"
                              f" p50 {results[-1].p50_ms:8.2f} ms  p95 {results[-1].p95_ms:8.2f} ms  rows {rows}")
    finally:
        if not args.keep:
            psql(f"DROP DATABASE IF EXISTS {DATABASE}", lab, db.port)
    print(f"\n{datetime.now():%Y-%m-%d}, {args.rounds} rounds each, organisation with {BIG} of {CALLS} calls\n")
    print("| filter | page | with the index: p50 | p95 | without: p50 | p95 |")
    print("|---|---|---|---|---|---|")
    by_key = {(r.case, r.page, r.indexed): r for r in results}
    for case in cases(0):
        for page in (1, 500):
            with_index, without = by_key[(case.name, page, True)], by_key[(case.name, page, False)]
            print(f"| {case.name} | {page} | {with_index.p50_ms:.1f} ms | {with_index.p95_ms:.1f} ms | "
                  f"{without.p50_ms:.1f} ms | {without.p95_ms:.1f} ms |")


if __name__ == "__main__":
    main()
