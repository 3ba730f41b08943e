"""The demo's recorded call: Alice (recording always on) calls Bob through the running service, with
real SIPp phones sending tones; then its call row and archived recording are read back and described,
and the call is found in the portal's Reports > Calls (logged in as the lab's admin) with its play button.

    python -m asterisk_rec.lab.demo --env-file /var/lib/asterisk-rec-lab/asterisk-rec.env
"""

from __future__ import annotations

import argparse
import asyncio
import re
import secrets
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from psycopg.rows import dict_row

from asterisk_rec.accounts.store import AccountStore
from asterisk_rec.adapters.db import Database
from asterisk_rec.config import Settings, load_settings
from asterisk_rec.directory.store import DirectoryStore
from asterisk_rec.errors import NotFound
from asterisk_rec.lab.directory import LAB_ORGANISATION, seed_lab_directory
from asterisk_rec.testing.sipp import ALICE_DESK, BOB_DESK, answer, call, ulaw_tone
from asterisk_rec.testing.tones import read_audio, tone_coverage

DEMO_ADMIN = "admin@lab.example"


async def demo(env_file: Path, seconds: int) -> None:
    settings = load_settings(env_file=env_file)
    async with Database(settings.database, max_size=1) as db:
        store = DirectoryStore(db)
        await seed_lab_directory(store)
        await store.set_recording(LAB_ORGANISATION, "201", "always")
        started = datetime.now(UTC).replace(microsecond=0)
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            print("Alice (201, recording always on) calls Bob (202): Bob hears the notice, then they talk "
                  f"for {seconds} s ...")
            bob = answer(BOB_DESK, ulaw_tone(work / "bob.ul", 1300), work / "bob", ring_ms=1000)
            await asyncio.sleep(0.3)
            alice = call(ALICE_DESK, "202", ulaw_tone(work / "alice.ul", 700), work / "alice", call_ms=seconds * 1000)
            for phone in (alice, bob):
                if await asyncio.to_thread(phone.wait) != 0:
                    raise SystemExit(f"the demo call failed:\n{phone.log()}")
        row = await _archived_call(db, started)
        password = await _demo_admin(AccountStore(db))
    path = Path(settings.archive.root) / row["path"]
    audio = read_audio(path)
    print(f"Call {row['call_id']}: {row['caller']} -> {row['callee']}, {row['disposition']}, on record from its "
          f"CDR.\nRecording archived as {path} ({row['format']}, {row['size_bytes']} bytes, {audio.seconds:.1f} s, "
          f"SHA-256 {row['sha256'][:16]}...): Alice's 700 Hz in {tone_coverage(audio, 700):.0%} and Bob's "
          f"1300 Hz in {tone_coverage(audio, 1300):.0%} of its 100 ms windows.")
    portal = await _shown_in_portal(settings, row["id"], password)
    print(f"In the portal: {portal}/reports/calls (log in as {DEMO_ADMIN}, password {password}): the call is "
          "the newest row, with its play and download buttons.")


async def _demo_admin(accounts: AccountStore) -> str:
    """The lab organisation's admin, with a new password for this demo (the lab is on loopback only)."""
    password = secrets.token_urlsafe(12)
    try:
        await accounts.by_email(DEMO_ADMIN)
        await accounts.set_password(DEMO_ADMIN, password)
    except NotFound:
        await accounts.add(LAB_ORGANISATION, DEMO_ADMIN, "Lab admin", "admin", password, language="en")
    return password


async def _shown_in_portal(settings: Settings, call_id: int, password: str) -> str:
    """Logs in to the portal as the demo's admin and finds the call, recorded, in Reports > Calls."""
    url = f"http://{settings.web.host}:{settings.web.port}"
    async with httpx.AsyncClient(base_url=url, timeout=10) as portal:
        form = await portal.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        if token is None:
            raise SystemExit(f"the portal at {url} did not answer with its login page")
        await portal.post("/login", data={"csrf_token": token[1], "email": DEMO_ADMIN, "password": password})
        page = await portal.get("/reports/calls")
    row = re.search(rf'<tr data-call-id="{call_id}">(.*?)</tr>', page.text, re.S)
    if row is None or 'class="play"' not in row[1]:
        raise SystemExit(f"the call is not in the portal's Reports > Calls at {url}/reports/calls")
    return url


async def _archived_call(db: Database, since: datetime, within: float = 30) -> dict[str, Any]:
    """The demo call's row joined to its archived recording, once both are written."""
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        async with db.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(
                "SELECT c.id, c.call_id, c.caller, c.callee, c.disposition, r.path, r.format, r.size_bytes, r.sha256"
                " FROM calls c JOIN recordings r ON r.call_id = c.call_id"
                " WHERE c.started_at >= %s AND c.source = 'cdr' AND r.state = 'stored'", (since,))
            row = await cur.fetchone()
        if row is not None:
            return row
        await asyncio.sleep(0.3)
    raise SystemExit("the demo call was not recorded and archived: see the service's log")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--env-file", type=Path, required=True)
    parser.add_argument("--seconds", type=int, default=8)
    args = parser.parse_args()
    asyncio.run(demo(args.env_file, args.seconds))


if __name__ == "__main__":
    main()
