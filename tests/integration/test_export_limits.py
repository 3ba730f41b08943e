"""Bulk downloads cannot hurt the service or the other organisations: an export that fills its disk, or
would, fails on its own row with the reason and leaves nothing behind, the service running on; an
organisation has a bounded number of exports. The export disk is the tests' small tmpfs."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import pytest

from asterisk_rec.accounts.store import AccountStore
from asterisk_rec.adapters.db import Database
from asterisk_rec.config import Settings
from tests.integration.archive_rows import add_recorded_call, bulk_download_organisation
from tests.integration.conftest import MAX_EXPORTS, PASSWORD, Login, Portal, ServiceProcess

pytestmark = pytest.mark.anyio
ZONE = ZoneInfo("Europe/Amsterdam")
FILES, FILE_BYTES = 20, 50_000
MONTH_BYTES = FILES * FILE_BYTES
PAGE = 4096


@dataclass(frozen=True)
class Tenant:
    name: str
    admin: Login


@pytest.fixture(scope="module")
async def tenant(settings: Settings, service: ServiceProcess) -> AsyncIterator[Tenant]:
    """An organisation of its own (365 days, bulk download on) with 20 recordings of 50 kB in September."""
    name = f"exports-{uuid.uuid4().hex[:8]}"
    async with Database(settings.database, max_size=2) as db:
        accounts = AccountStore(db)
        org_id, users = await bulk_download_organisation(db, name)
        email = f"admin-{name}@exports.example"
        await accounts.add(name, email, "admin", "admin", PASSWORD, language="en")
        september = datetime(2026, 9, 1, 9, tzinfo=ZONE)
        for n in range(FILES):
            await add_recorded_call(db, Path(settings.archive.root), org_id, users,
                                    september + timedelta(hours=n), "mp3", FILE_BYTES)
        yield Tenant(name, Login(email, PASSWORD, await accounts.issue_token(email, "tests")))


def free_bytes(root: Path) -> int:
    stat = os.statvfs(root)
    return stat.f_bavail * stat.f_frsize


@pytest.fixture
def fill(exports_root: Path) -> Iterator[Any]:
    """Fills the export disk until ``leave`` bytes (to a page or two) are free; emptied after the test."""
    filler = exports_root / "filler"

    def to(leave: int) -> int:
        filler.unlink(missing_ok=True)
        size = (free_bytes(exports_root) - leave) // PAGE * PAGE
        assert size > 0, "the export disk is too small for this test"
        with filler.open("wb") as file:
            os.posix_fallocate(file.fileno(), 0, size)
        free = free_bytes(exports_root)
        assert leave <= free < leave + 3 * PAGE, (leave, free)
        return free

    yield to
    filler.unlink(missing_ok=True)


async def ask(portal: Portal, tenant: Tenant, month: str) -> dict[str, Any]:
    async with portal.api(tenant.admin) as client:
        asked = await client.post("/api/v1/exports", json={"month": month})
        assert asked.status_code == 202, asked.text
        export_id = asked.json()["id"]
        with anyio.fail_after(60):
            while True:  # the service's worker builds it: poll its row
                export = next(e for e in (await client.get("/api/v1/exports")).json() if e["id"] == export_id)
                if export["state"] not in ("queued", "running"):
                    break
                await anyio.sleep(0.2)
    return dict(export)


async def test_an_export_filling_its_disk_fails_alone(portal: Portal, tenant: Tenant, service: ServiceProcess,
                                                      exports_root: Path, fill: Any) -> None:
    """The disk has room for September's files but not for the ZIPs around them: the build runs out of
    space mid-way. The export is marked failed saying so, its partial files are gone, and the same service
    process goes on (the portal answers, the next export is built once there is room)."""
    fill(MONTH_BYTES + PAGE)
    before = service.process
    assert before is not None
    failed = await ask(portal, tenant, "2026-09")
    assert failed["state"] == "failed" and "No space left on device" in (failed["error"] or ""), failed
    assert not (exports_root / str(failed["id"])).exists()
    assert service.process is before and before.poll() is None, "the service stopped"
    fill(MONTH_BYTES * 2)
    done = await ask(portal, tenant, "2026-09")
    assert done["state"] == "done" and done["files_total"] == FILES, done


async def test_an_export_that_would_fill_the_disk_does_not_start(portal: Portal, tenant: Tenant,
                                                                 exports_root: Path, fill: Any) -> None:
    """Less room than September's files need: the build refuses to start and says how much it needs and
    has; nothing is written."""
    free = fill(MONTH_BYTES // 2)
    refused = await ask(portal, tenant, "2026-09")
    assert refused["state"] == "failed" and "not enough room" in (refused["error"] or ""), refused
    assert "needs about 1 MB" in refused["error"], refused["error"]
    assert not (exports_root / str(refused["id"])).exists()
    assert free_bytes(exports_root) == free


async def test_an_organisation_has_a_bounded_number_of_exports(portal: Portal, tenant: Tenant) -> None:
    """Waiting, building and kept exports count (failed ones do not): past export.max_per_organisation a
    request is refused (409) saying why, and nothing is queued."""
    async with portal.api(tenant.admin) as client:
        kept = [e for e in (await client.get("/api/v1/exports")).json() if e["state"] in ("queued", "running", "done")]
        for _ in range(MAX_EXPORTS - len(kept)):
            assert (await client.post("/api/v1/exports", json={"month": "2026-08"})).status_code == 202
        count = len((await client.get("/api/v1/exports")).json())
        refused = await client.post("/api/v1/exports", json={"month": "2026-08"})
        assert refused.status_code == 409, refused.text
        assert refused.json()["error_id"] == "conflict" and "the most it may have" in refused.json()["message"]
        assert len((await client.get("/api/v1/exports")).json()) == count
