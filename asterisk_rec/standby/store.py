"""The ``service_leases`` table: per Asterisk node, which service instance is active and until when. On a
connection of its own (never waiting behind the pool's work), made again after any fault."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import anyio
import psycopg

CLOSE_SECONDS = 0.5

# PostgreSQL's clock, not the instances': each grant runs from when it arrived.
_TAKE = (
    "INSERT INTO service_leases AS lease (node, holder, expires_at, acquired_at)"
    " VALUES (%(node)s, %(holder)s, clock_timestamp() + %(seconds)s * interval '1 second', clock_timestamp())"
    " ON CONFLICT (node) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at,"
    " acquired_at = CASE WHEN lease.holder = EXCLUDED.holder THEN lease.acquired_at ELSE EXCLUDED.acquired_at END"
    " WHERE lease.holder = EXCLUDED.holder OR lease.expires_at < clock_timestamp()"
    " RETURNING holder"
)


@dataclass(frozen=True)
class LeaseHolder:
    holder: str
    expires_in: float  # seconds, by PostgreSQL's clock


class LeaseStore:
    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._connection: psycopg.AsyncConnection[Any] | None = None

    async def _connected(self) -> psycopg.AsyncConnection[Any]:
        if self._connection is None or self._connection.closed:
            self._connection = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
        return self._connection

    async def discard(self) -> None:
        """After a fault or a request given up on: the next one connects afresh."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        with contextlib.suppress(Exception), anyio.move_on_after(CLOSE_SECONDS):
            await connection.close()
        if not connection.closed:
            # Its network cut: a polite close waits on it for ever. The socket is closed all the same.
            connection.pgconn.finish()

    async def take(self, node: str, holder: str, seconds: float) -> bool:
        """Takes the node's lease if it is free or expired, renews it if ``holder`` has it: True if held."""
        connection = await self._connected()
        cursor = await connection.execute(_TAKE, {"node": node, "holder": holder, "seconds": seconds})
        return await cursor.fetchone() is not None

    async def release(self, node: str, holder: str) -> None:
        """Ends the lease at once (a clean stop): the standby need not wait for it to expire."""
        connection = await self._connected()
        await connection.execute("UPDATE service_leases SET expires_at = clock_timestamp() - interval '1 second'"
                                 " WHERE node = %s AND holder = %s", (node, holder))

    async def holder_of(self, node: str) -> LeaseHolder | None:
        connection = await self._connected()
        cursor = await connection.execute(
            "SELECT holder, extract(epoch FROM expires_at - clock_timestamp())::float8"
            " FROM service_leases WHERE node = %s AND expires_at >= clock_timestamp()", (node,))
        row = await cursor.fetchone()
        return LeaseHolder(*row) if row else None
