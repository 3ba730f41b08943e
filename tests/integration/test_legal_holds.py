"""Legal holds of a recording owned by two organisations (a call between them): each organisation's hold
is its own, the recording stays while either holds it, and a recording already purged cannot be held."""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest

from asterisk_rec.accounts.store import AccountStore
from asterisk_rec.adapters.db import Database
from asterisk_rec.config import Settings
from tests.integration.archive_rows import add_recorded_call, bulk_download_organisation
from tests.integration.conftest import PASSWORD, Login, Portal

pytestmark = pytest.mark.anyio


async def purge(env_file: Path, organisation: str) -> str:
    done = await anyio.run_process([sys.executable, "-m", "asterisk_rec", "--env-file", str(env_file), "purge",
                                    "--org", organisation], check=False)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode()


async def test_each_owner_holds_for_itself(settings: Settings, portal: Portal, lab_env_file: Path) -> None:
    """A's admin holds the shared recording; B sees no hold of its own, and B lifting its hold leaves A's;
    the purge (both periods over) keeps it while A holds it and deletes it once A lifts it; then a hold is
    refused saying the recording was deleted. Each audit log has its own organisation's holds only."""
    run = uuid.uuid4().hex[:8]
    logins: list[Login] = []
    async with Database(settings.database, max_size=1) as db:
        (a_id, users), (b_id, _) = [await bulk_download_organisation(db, f"{who}-{run}") for who in ("holda", "holdb")]
        for who in ("holda", "holdb"):
            email = f"admin-{who}-{run}@holds.example"
            await AccountStore(db).add(f"{who}-{run}", email, who, "admin", PASSWORD, language="en")
            logins.append(Login(email, PASSWORD, await AccountStore(db).issue_token(email, "tests")))
        shared = await add_recorded_call(db, Path(settings.archive.root), a_id, users,
                                         datetime.now(UTC) - timedelta(days=400), "mp3", 1000, also_owner=b_id)
    async with portal.api(logins[0]) as a, portal.api(logins[1]) as b:
        held = await a.put(f"/api/v1/calls/{shared.call}/legal-hold")
        assert held.status_code == 200 and held.json()["legal_hold"] is True, held.text
        assert (await b.get(f"/api/v1/calls/{shared.call}")).json()["legal_hold"] is False
        lifted = await b.delete(f"/api/v1/calls/{shared.call}/legal-hold")
        assert lifted.status_code == 200 and lifted.json()["legal_hold"] is False
        assert (await a.get(f"/api/v1/calls/{shared.call}")).json()["legal_hold"] is True
        assert "0 recordings deleted" in await purge(lab_env_file, f"holdb-{run}")
        assert shared.path.exists()
        assert (await a.delete(f"/api/v1/calls/{shared.call}/legal-hold")).json()["legal_hold"] is False
        assert "1 recordings deleted" in await purge(lab_env_file, f"holdb-{run}")
        assert not shared.path.exists()
        refused = await a.put(f"/api/v1/calls/{shared.call}/legal-hold")
        assert refused.status_code == 409 and "was deleted on" in refused.json()["message"], refused.text
        a_audit = [e["action"] for e in (await a.get("/api/v1/audit")).json() if e["subject"] == f"call {shared.call}"]
        b_audit = [e["action"] for e in (await b.get("/api/v1/audit")).json() if e["subject"] == f"call {shared.call}"]
    assert a_audit == ["legal_hold_released", "legal_hold"], a_audit
    assert b_audit == ["legal_hold_released"], b_audit
