"""Applies the numbered SQL files in ``migrations/`` once each, in order, under an advisory lock so two
processes starting together do not race."""

from __future__ import annotations

import logging
from importlib import resources

import psycopg

log = logging.getLogger(__name__)

# Any constant both processes agree on: it names the lock, nothing else.
MIGRATION_LOCK = 0x61737472


def available() -> list[tuple[str, str]]:
    files = resources.files("asterisk_rec.store") / "migrations"
    return sorted((f.name, f.read_text()) for f in files.iterdir() if f.name.endswith(".sql"))


async def migrate(connection: psycopg.AsyncConnection[object]) -> list[str]:
    """Brings the schema up to date; returns the migrations it applied."""
    applied_now: list[str] = []
    async with connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        await connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        cursor = await connection.execute("SELECT name FROM schema_migrations")
        done = {row[0] for row in await cursor.fetchall()}  # type: ignore[index]
        for name, sql in available():
            if name in done:
                continue
            await connection.execute(sql.encode())
            await connection.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (name,))
            applied_now.append(name)
            log.info("applied migration %s", name)
    return applied_now
