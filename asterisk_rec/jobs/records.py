"""The ``background_jobs`` table: each background job's failures, for operators and alarms. The only
module that writes it."""

from __future__ import annotations

from asterisk_rec.adapters.db import Database


class JobRecords:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def failed(self, job: str, error: str) -> None:
        async with self.db.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO background_jobs (name, failures, last_error, last_failed_at) VALUES (%s, 1, %s, now())"
                " ON CONFLICT (name) DO UPDATE SET failures = background_jobs.failures + 1,"
                " last_error = excluded.last_error, last_failed_at = now()", (job, error[:2000]))
