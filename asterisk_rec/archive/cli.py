"""The archive's commands: ``asterisk-rec verify [--org NAME]``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from asterisk_rec.adapters.db import Database
from asterisk_rec.archive.records import RecordingStore
from asterisk_rec.archive.verify import verify
from asterisk_rec.config import Settings
from asterisk_rec.directory.store import DirectoryStore


def add_commands(commands: Any) -> None:
    p = commands.add_parser("verify", help="hash every archived recording again; report any missing or altered")
    p.add_argument("--org", help="only this organisation's recordings")


async def run_verify(settings: Settings, args: argparse.Namespace) -> tuple[list[str], int]:
    """One line per recording whose file is missing, unreadable or altered, then a summary; exit status 1
    if there was any."""
    root = Path(settings.archive.root)
    lines: list[str] = []
    checked = bad = 0
    async with Database(settings.database, settings.service.connect_timeout, max_size=2) as db:
        organisation_id = (await DirectoryStore(db).organisation(args.org)).id if args.org else None
        async for recording, finding in verify(RecordingStore(db), root, organisation_id):
            checked += 1
            if finding is not None:
                bad += 1
                lines.append(f"{finding.problem.value}\t{finding.path}\t{recording.name}"
                             + (f"\t{finding.detail}" if finding.detail else ""))
    lines.append(f"{checked} recordings checked in {root}: {checked - bad} intact, {bad} missing or altered")
    return lines, 1 if bad else 0
