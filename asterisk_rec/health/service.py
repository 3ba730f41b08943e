"""Liveness and readiness, for systemd and load balancers: ready when every connection the process
needs is up (as the connections report it), PostgreSQL answers now, and the archive can be written."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import anyio

from asterisk_rec.adapters.db import Database
from asterisk_rec.health.state import Dependencies

# A probe must answer well within a load balancer's timeout, even with PostgreSQL hanging.
DATABASE_PROBE_SECONDS = 2.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""
    # Seconds since it changed (a connection reported up or down); None for a check made now.
    for_seconds: float | None = None


@dataclass(frozen=True)
class Readiness:
    checks: tuple[Check, ...]

    @property
    def ready(self) -> bool:
        return all(check.ok for check in self.checks)


def archive_check(root: Path) -> Check:
    """The archive's root is a directory this process may write (a read-only mount says no)."""
    if not root.is_dir():
        return Check("archive", False, f"{root} is not a directory")
    if not os.access(root, os.W_OK | os.X_OK):
        return Check("archive", False, f"{root} is not writable")
    return Check("archive", True)


class HealthService:
    """``dependencies``: the connections the process keeps (ARI, AMI), None for the portal alone;
    ``archive_root``: checked when this process writes the archive."""

    def __init__(self, db: Database, dependencies: Dependencies | None = None,
                 archive_root: Path | None = None) -> None:
        self.db = db
        self.dependencies = dependencies
        self.archive_root = archive_root

    async def _database(self) -> Check:
        try:
            with anyio.fail_after(DATABASE_PROBE_SECONDS):
                async with self.db.pool.connection(timeout=DATABASE_PROBE_SECONDS) as conn:
                    await conn.execute("SELECT 1")
        except Exception as err:  # whatever it is, the answer is "not ready", with why
            return Check("postgresql", False, str(err).strip().splitlines()[0] if str(err).strip()
                         else type(err).__name__)
        return Check("postgresql", True)

    async def readiness(self) -> Readiness:
        checks = []
        if self.dependencies is not None:
            now = self.dependencies.clock()
            checks += [Check(d.name, d.up, d.reason, round(now - d.since, 1)) for d in self.dependencies.all()]
        checks.append(await self._database())
        if self.archive_root is not None:
            checks.append(await anyio.to_thread.run_sync(archive_check, self.archive_root))
        return Readiness(tuple(checks))
