"""PostgreSQL through a psycopg 3 connection pool."""

from __future__ import annotations

import logging
from types import TracebackType

import psycopg
from psycopg.conninfo import make_conninfo
from psycopg_pool import AsyncConnectionPool

from asterisk_rec.config import DatabaseSettings
from asterisk_rec.errors import DatabaseCredentialsRejected, DatabaseUnavailable

log = logging.getLogger(__name__)


class Database:
    def __init__(self, settings: DatabaseSettings, timeout: float = 5.0, max_size: int = 10) -> None:
        self.settings = settings
        self.timeout = timeout
        self._conninfo = make_conninfo(
            host=settings.host,
            port=settings.port,
            dbname=settings.name,
            user=settings.user,
            password=settings.password.reveal(),
            connect_timeout=max(1, round(timeout)),
            application_name="asterisk-rec",
        )
        self.pool = AsyncConnectionPool(self._conninfo, min_size=1, max_size=max_size, open=False)

    @property
    def conninfo(self) -> str:
        """For a connection of its own (LISTEN); holds the password: never log it."""
        return self._conninfo

    @property
    def where(self) -> str:
        return f"{self.settings.host}:{self.settings.port} (database {self.settings.name!r})"

    async def _probe(self) -> None:
        """One direct connection first: the pool would only time out, this says why."""
        try:
            connection = await psycopg.AsyncConnection.connect(self._conninfo)
        except psycopg.OperationalError as err:
            reason = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
            if "password authentication failed" in reason or "no password supplied" in reason:
                raise DatabaseCredentialsRejected(
                    f"PostgreSQL at {self.where} rejected user {self.settings.user!r}: "
                    "check database.user and database.password"
                ) from err
            raise DatabaseUnavailable(
                f"PostgreSQL is unavailable at {self.where}: {reason}. Is it running and listening there?"
            ) from err
        await connection.close()

    async def __aenter__(self) -> Database:
        await self._probe()
        await self.pool.open(wait=True, timeout=self.timeout)
        log.info("PostgreSQL connected at %s", self.where)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.pool.close()

    async def ping(self) -> str:
        async with self.pool.connection() as connection:
            cursor = await connection.execute("SELECT version()")
            row = await cursor.fetchone()
        assert row is not None
        return str(row[0])
