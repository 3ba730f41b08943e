"""Retention and the bulk download against the running service, PostgreSQL, the archive and a real SMTP
server on loopback (aiosmtpd). An organisation of its own holds a month of recordings (October 2026:
MP3s, a WAV, one whose file is missing) and older ones for the purge; its files are in the archive."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import sys
import time
import uuid
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import httpx
import pytest

from asterisk_rec.accounts.store import AccountStore
from asterisk_rec.adapters.db import Database
from asterisk_rec.config import Settings
from asterisk_rec.directory.store import DirectoryStore
from asterisk_rec.export import links
from tests.integration.archive_rows import Recorded, add_recorded_call, bulk_download_organisation
from tests.integration.conftest import PASSWORD, Login, Mailbox, Portal, ServiceProcess

pytestmark = pytest.mark.anyio
ZONE = ZoneInfo("Europe/Amsterdam")
MONTH = "2026-10"


@dataclass
class Organisation:
    name: str
    id: int
    admin: Login
    second_admin: Login
    month: list[Recorded]  # October's recorded calls
    old: Recorded  # started 400 days ago
    old_held: Recorded  # started 400 days ago, under legal hold
    recent: Recorded  # started 100 days ago


@pytest.fixture(scope="module")
async def organisation(settings: Settings, service: ServiceProcess) -> AsyncIterator[Organisation]:
    run = uuid.uuid4().hex[:8]
    name = f"retention-{run}"
    archive = Path(settings.archive.root)
    async with Database(settings.database, max_size=2) as db:
        accounts = AccountStore(db)
        org_id, users = await bulk_download_organisation(db, name)
        logins = []
        for who in ("admin", "second"):
            email = f"{who}-{run}@retention.example"
            await accounts.add(name, email, who, "admin", PASSWORD, language="en")
            logins.append(Login(email, PASSWORD, await accounts.issue_token(email, "tests")))
        october = datetime(2026, 10, 1, 9, tzinfo=ZONE)
        month = [await add_recorded_call(db, archive, org_id, users, october + timedelta(days=day, minutes=day),
                                         fmt, size)
                 for day, (fmt, size) in enumerate((("mp3", 60_000), ("mp3", 70_000), ("wav", 90_000),
                                                    ("mp3", 50_000), ("mp3", None), ("opus", 40_000)))]
        now = datetime.now(UTC)
        old = await add_recorded_call(db, archive, org_id, users, now - timedelta(days=400), "mp3", 10_000)
        held = await add_recorded_call(db, archive, org_id, users, now - timedelta(days=400), "mp3", 10_000, held=True)
        recent = await add_recorded_call(db, archive, org_id, users, now - timedelta(days=100), "mp3", 10_000)
        yield Organisation(name, org_id, logins[0], logins[1], month, old, held, recent)


def api(portal: Portal, login: Login) -> httpx.AsyncClient:
    return portal.api(login)


async def wait_for_mail(mailbox: Mailbox, address: str, within: float = 60) -> str:
    with anyio.fail_after(within):
        while not mailbox.to(address):  # noqa: ASYNC110 (filled by aiosmtpd's thread)
            await anyio.sleep(0.2)
    body = mailbox.to(address)[-1].get_body(("plain",))
    assert body is not None
    return str(body.get_content())


async def test_a_months_recordings_arrive_as_zips_by_mail(portal: Portal, organisation: Organisation,
                                                          mailbox: Mailbox, exports_root: Path) -> None:
    """The admin asks for October: the e-mail arrives with one link per ZIP (several: the split is small);
    logged in, the links give ZIPs that together hold each of the month's files once, byte for byte,
    MP3 and Opus stored, WAV deflated; the manifest lists every recorded call with its SHA-256, the one
    whose file is missing marked missing. The portal lists the export with the same links."""
    async with api(portal, organisation.admin) as client:
        asked = await client.post("/api/v1/exports", json={"month": MONTH})
        assert asked.status_code == 202, asked.text
        export_id = asked.json()["id"]
    body = await wait_for_mail(mailbox, organisation.admin.email)
    urls = re.findall(r"http://127\.0\.0\.1:\d+/exports/\S+", body)
    # Split at 150 kB in October's order: 60 + 70 kB | 90 (the WAV) + 50 kB | 40 kB and the manifest.
    assert len(urls) == 3, body
    contents: dict[str, bytes] = {}
    manifest: list[dict[str, str]] = []
    async with portal.session(organisation.admin) as session:
        for url in urls:
            answer = await session.get(url)
            assert answer.status_code == 200, answer.text
            with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
                for info in archive.infolist():
                    if info.filename == "manifest.csv":
                        manifest = list(csv.DictReader(io.StringIO(archive.read(info).decode())))
                        continue
                    assert info.filename not in contents, f"{info.filename} twice"
                    contents[info.filename] = archive.read(info)
                    stored = info.filename.endswith((".mp3", ".opus"))
                    assert info.compress_type == (zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED)
        listed = (await session.get("/reports/exports")).text
    present = [r for r in organisation.month if r.content is not None]
    assert sorted(hashlib.sha256(c).hexdigest() for c in contents.values()) == sorted(
        hashlib.sha256(r.content or b"").hexdigest() for r in present)
    assert all(re.fullmatch(r"2026-10-\d\d_\d{6}_201_202_\d+\.(mp3|wav|opus)", name) for name in contents)
    assert sorted(int(r["call"]) for r in manifest) == sorted(r.call for r in organisation.month)
    by_call = {int(r["call"]): r for r in manifest}
    for recorded in organisation.month:
        row = by_call[recorded.call]
        if recorded.content is None:
            assert row["status"] == "missing" and not row["sha256"]
        else:
            assert row["status"] == "ok" and row["sha256"] == hashlib.sha256(recorded.content).hexdigest()
            assert contents[row["file"]] == recorded.content
    assert all(url.split("?")[0].removeprefix(portal.url) in listed for url in urls)
    assert (exports_root / str(export_id)).is_dir()


async def test_links_work_only_for_their_requester_in_time(settings: Settings, portal: Portal,
                                                          organisation: Organisation, mailbox: Mailbox,
                                                          exports_root: Path) -> None:
    """Not logged in: to the login page; another admin of the organisation, an altered link, an expired
    link: refused (403); once the export expires, its files are removed and the link is gone (404)."""
    async with api(portal, organisation.admin) as client:
        exports = (await client.get("/api/v1/exports")).json()
    done = next(e for e in exports if e["state"] == "done" and e["links"])
    url = done["links"][0]
    export_id, part = re.search(r"/exports/(\d+)/([^?]+)", url).groups()  # type: ignore[union-attr]
    async with httpx.AsyncClient() as anonymous:
        assert (await anonymous.get(url)).status_code == 303
    async with portal.session(organisation.second_admin) as other:
        refused = await other.get(url)
        assert refused.status_code == 403 and "not valid for you" in refused.text
    async with Database(settings.database, max_size=1) as db:
        secret = await AccountStore(db).session_secret()
        async with db.pool.connection() as conn:
            cursor = await conn.execute("SELECT id FROM accounts WHERE email = %s", (organisation.admin.email,))
            account = await cursor.fetchone()
        assert account is not None
        expired = links.link(portal.url, secret, int(export_id), part, account[0], int(time.time()) - 60)
        async with portal.session(organisation.admin) as session:
            assert (await session.get(url.replace("sig=", "sig=0"))).status_code == 403
            answer = await session.get(expired)
            assert answer.status_code == 403 and "expired" in answer.text
            async with db.pool.connection() as conn:
                await conn.execute("UPDATE exports SET expires_at = now() - interval '1 second' WHERE id = %s",
                                   (int(export_id),))
            with anyio.fail_after(20):
                while (exports_root / export_id).exists():  # noqa: ASYNC110 (the service's worker removes it)
                    await anyio.sleep(0.2)
            assert (await session.get(url)).status_code == 404


async def test_bulk_download_needs_180_days(portal: Portal) -> None:
    """The other organisation keeps recordings 90 days: it cannot switch bulk download on nor ask for one;
    each refusal says why."""
    async with api(portal, portal.other_admin) as client:
        # (The API's fuzz may have chosen another period for it.)
        kept = await client.put("/api/v1/retention", json={"days": 90, "confirm": True})
        assert kept.json()["days"] == 90 and kept.json()["bulk_download"] is False
        switched = await client.put("/api/v1/bulk-download", json={"on": True})
        assert switched.status_code == 400 and "at least 180 days" in switched.json()["message"]
        asked = await client.post("/api/v1/exports", json={"month": MONTH})
        assert asked.status_code == 400 and "at least 180 days" in asked.json()["message"]


async def test_a_shorter_period_asks_first_and_says_how_many_go(portal: Portal, organisation: Organisation) -> None:
    """From 365 to 30 days: refused until confirmed, with the number of recordings that would go (every
    stored one older than 30 days but the held one); the cost follows the period."""
    async with api(portal, organisation.admin) as client:
        before = (await client.get("/api/v1/retention")).json()
        asked = await client.put("/api/v1/retention", json={"days": 30})
        assert asked.status_code == 409 and asked.json()["error_id"] == "confirmation_needed"
        older = len(organisation.month) + 2  # October's, the old unheld one and the recent one
        assert f"deletes {older} recordings" in asked.json()["message"], asked.json()
        assert asked.json()["details"] == {"recordings_deleted": older}
        assert (await client.get("/api/v1/retention")).json()["days"] == 365
        bad = await client.put("/api/v1/retention", json={"days": 60, "confirm": True})
        assert bad.status_code == 400 and "30, 90, 180, 365" in bad.json()["message"]
        assert before["monthly_cost"] == before["recorded_users"] * next(
            p["price_per_user"] for p in before["offered"] if p["days"] == 365)
    async with portal.session(organisation.admin) as session:
        # The portal asks the same, with a confirm button; cancelling leaves the period as it was.
        settings_page = await session.get("/settings/recording")
        token = re.search(r'name="csrf_token" value="([^"]+)"', settings_page.text)[1]  # type: ignore[index]
        asked_page = await session.post("/settings/retention", data={"csrf_token": token, "days": "30"})
        assert asked_page.status_code == 409 and 'id="confirm-shorter"' in asked_page.text
        assert f"deletes {older} recordings" in asked_page.text
        assert 'value="365" selected' in (await session.get("/settings/recording")).text


async def run_cli(env_file: Path, *args: str) -> str:
    done = await anyio.run_process([sys.executable, "-m", "asterisk_rec", "--env-file", str(env_file), *args],
                                   check=True)
    return done.stdout.decode()


async def test_purge_deletes_exactly_the_expired_and_never_a_held_one(settings: Settings, lab_env_file: Path,
                                                                      portal: Portal, organisation: Organisation
                                                                      ) -> None:
    """At 365 days: the dry run lists the one unheld recording older than that and deletes nothing; the
    purge deletes exactly it (file gone, row purged, the call's row kept and marked as its recording
    deleted and no longer "recorded", the audit log says so); the held one and the younger ones stay."""
    everything = [*organisation.month, organisation.old, organisation.old_held, organisation.recent]
    dry = await run_cli(lab_env_file, "purge", "--dry-run", "--org", organisation.name)
    assert organisation.old.name in dry and organisation.old_held.name not in dry, dry
    assert "1 recordings would be deleted" in dry
    assert all(r.path.exists() for r in everything if r.content is not None)
    done = await run_cli(lab_env_file, "purge", "--org", organisation.name)
    assert "1 recordings deleted" in done, done
    assert not organisation.old.path.exists()
    assert all(r.path.exists() for r in everything if r.content is not None and r is not organisation.old)
    async with Database(settings.database, max_size=1) as db, db.pool.connection() as conn:
        cursor = await conn.execute("SELECT name, state FROM recordings WHERE organisation_id = %s",
                                    (organisation.id,))
        states: dict[str, Any] = dict(await cursor.fetchall())
        # Reports > Calls' "recorded only" flag follows the recording (a trigger): cleared by the purge.
        cursor = await conn.execute("SELECT call_id, recorded FROM call_organisations WHERE organisation_id = %s",
                                    (organisation.id,))
        recorded: dict[int, bool] = dict(await cursor.fetchall())
    assert recorded[organisation.old.call] is False and recorded[organisation.recent.call] is True
    assert states[organisation.old.name] == "purged"
    assert [n for n, s in states.items() if s == "purged"] == [organisation.old.name]
    async with api(portal, organisation.admin) as client:
        call = (await client.get(f"/api/v1/calls/{organisation.old.call}")).json()
        assert call["recorded"] is False and call["recording_deleted_at"] is not None
        gone = await client.get(f"/api/v1/calls/{organisation.old.call}/recording")
        assert gone.status_code == 404 and "retention period is over" in gone.json()["message"]
        audit = (await client.get("/api/v1/audit")).json()
    assert any(e["action"] == "purged" and e["subject"] == f"recording {organisation.old.name}" for e in audit)


async def test_the_statement_counts_the_users_recorded_that_month(settings: Settings, portal: Portal,
                                                                 organisation: Organisation) -> None:
    """Ann recorded on demand from now: this month's statement lists her at the period's price; October's
    lists nobody."""
    async with Database(settings.database, max_size=1) as db:
        await DirectoryStore(db).set_recording(organisation.name, "201", "on demand")
    this_month = datetime.now(ZONE).strftime("%Y-%m")
    async with api(portal, organisation.admin) as client:
        now = (await client.get("/api/v1/statement", params={"month": this_month})).json()
        october = (await client.get("/api/v1/statement", params={"month": MONTH})).json()
        bad = await client.get("/api/v1/statement", params={"month": "2026-13"})
    assert [u["extension"] for u in now["users"]] == ["201"] and now["total"] == now["price_per_user"]
    assert october["users"] == [] and october["total"] == 0
    assert bad.status_code == 400
