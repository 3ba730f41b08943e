"""``asterisk-rec verify`` re-hashes archived recordings and reports each missing or altered file."""

from __future__ import annotations

import hashlib
import sys
import uuid
from pathlib import Path

import anyio
import pytest

from asterisk_rec.adapters.db import Database
from asterisk_rec.config import Settings
from asterisk_rec.directory.store import DirectoryStore

pytestmark = pytest.mark.anyio


async def test_verify_reports_missing_and_altered_files(settings: Settings, lab_env_file: Path,
                                                        tmp_path: Path) -> None:
    """Three archived recordings of a fresh organisation: one intact, one altered, one deleted. verify
    names the altered and the missing one, counts the intact one, and exits with status 1."""
    files = {}
    async with Database(settings.database, max_size=1) as db:
        organisation = await DirectoryStore(db).add_organisation(f"verify-{uuid.uuid4().hex[:8]}")
        try:
            async with db.pool.connection() as conn:
                for index in range(3):
                    relative = f"{organisation.id}/2026/11/28/{index:020x}.wav"
                    path = tmp_path / relative
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(b"RIFF" + bytes([index]) * 1000)
                    files[index] = path
                    await conn.execute(
                        "INSERT INTO recordings (call_id, name, organisation_id, started_at, state, format, path,"
                        " sha256, size_bytes, duration_seconds, stored_at) VALUES (%s, %s, %s, now(), 'stored',"
                        " 'wav', %s, %s, %s, 1, now())",
                        (f"{organisation.id:04d}{index:016x}", f"test-verify/{organisation.id}/{index}",
                         organisation.id, relative, hashlib.sha256(path.read_bytes()).hexdigest(),
                         path.stat().st_size))
            files[1].write_bytes(files[1].read_bytes()[:-1] + b"x")
            files[2].unlink()
            with anyio.fail_after(60):
                result = await anyio.run_process(
                    [sys.executable, "-m", "asterisk_rec", "--env-file", str(lab_env_file), "--set",
                     f"archive.root={tmp_path}", "verify", "--org", organisation.name], check=False)
        finally:
            async with db.pool.connection() as conn:
                await conn.execute("DELETE FROM recordings WHERE organisation_id = %s", (organisation.id,))
                await conn.execute("DELETE FROM organisations WHERE id = %s", (organisation.id,))
    assert result.returncode == 1, result.stderr.decode()
    lines = result.stdout.decode().splitlines()
    assert lines[0].startswith(f"altered\t{files[1]}\t") and "SHA-256" in lines[0], lines
    assert lines[1].startswith(f"missing\t{files[2]}\t"), lines
    assert lines[2] == f"3 recordings checked in {tmp_path}: 1 intact, 2 missing or altered"
