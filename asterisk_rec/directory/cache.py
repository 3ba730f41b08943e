"""The directory kept in the service's memory (``DirectorySnapshot``): loaded at start and again whenever
PostgreSQL says it changed (triggers ``NOTIFY asterisk_rec_directory``) or ``directory_refresh_seconds``
passed. While PostgreSQL is away the last snapshot stands, so calls are attributed as before; it is
loaded again as soon as PostgreSQL answers (a change made meanwhile was announced to nobody)."""

from __future__ import annotations

import logging

import anyio
import psycopg

from asterisk_rec.adapters.db import Database
from asterisk_rec.directory.models import Organisation, User
from asterisk_rec.directory.snapshot import DirectorySnapshot
from asterisk_rec.directory.store import DirectoryStore
from asterisk_rec.health.state import Dependencies
from asterisk_rec.jobs.supervisor import describe

log = logging.getLogger(__name__)

CHANNEL = "asterisk_rec_directory"
# Its name in /readyz.
DEPENDENCY = "directory"


# While PostgreSQL is away, how often it is tried again.
RECONNECT_SECONDS = 1.0


class DirectoryCache:
    """``dependencies`` hears when the snapshot is current (listening for changes) and when it is stale."""

    def __init__(self, db: Database, refresh_seconds: float = 60.0, dependencies: Dependencies | None = None) -> None:
        self.db = db
        self.store = DirectoryStore(db)
        self.refresh_seconds = refresh_seconds
        self.snapshot = DirectorySnapshot()
        self.dependencies = dependencies or Dependencies()

    async def load(self) -> None:
        self.snapshot = DirectorySnapshot.of(await self.store.organisations(), await self.store.all_users())
        log.info("directory loaded: %d organisations, %d users", len(self.snapshot.organisations),
                 len(self.snapshot))

    async def run(self) -> None:
        """Listens for changes and loads the directory again on each; when PostgreSQL is lost, tries again
        every second (not at its supervisor's growing delay) and loads it as soon as PostgreSQL answers."""
        while True:
            try:
                await self._listen()
            except (psycopg.OperationalError, OSError) as err:
                if self.dependencies.is_up(DEPENDENCY):
                    log.warning("directory: PostgreSQL lost (%s); the directory in memory stands until it is "
                                "back", describe(err))
                self.dependencies.down(DEPENDENCY, f"stale since PostgreSQL was lost: {describe(err)}")
            await anyio.sleep(RECONNECT_SECONDS)

    async def _listen(self) -> None:
        async with await psycopg.AsyncConnection.connect(self.db.conninfo, autocommit=True,
                                                         connect_timeout=5) as conn:
            # A handler, or psycopg keeps every notification for a notifies() this loop never calls.
            conn.add_notify_handler(lambda notify: log.debug("directory changed (%s)", notify.payload or "-"))
            await conn.execute(f"LISTEN {CHANNEL}")
            # After LISTEN: a change from now on is heard, one before it is in this load.
            await self.load()
            self.dependencies.up(DEPENDENCY)
            while True:
                # Waits on the socket itself: psycopg's notifies() wakes up ten times a second while it
                # waits, which was a good part of an idle service's CPU.
                with anyio.move_on_after(self.refresh_seconds):
                    await anyio.wait_readable(conn.fileno())
                # Reads what came (the notifications, or the connection's end, which raises).
                await conn.execute("SELECT 1")
                await self.load()

    # The lookups a call needs, from memory.

    def organisation(self, name: str) -> Organisation:
        return self.snapshot.organisation(name)

    def organisation_by_id(self, organisation_id: int) -> Organisation | None:
        return self.snapshot.organisation_by_id(organisation_id)

    def user_by_device(self, *, endpoint: str | None = None, number: str | None = None) -> User | None:
        return self.snapshot.user_by_device(endpoint=endpoint, number=number)

    def user_by_extension(self, organisation_id: int, extension: str) -> User | None:
        return self.snapshot.user_by_extension(organisation_id, extension)
