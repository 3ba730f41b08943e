"""Settings > Call recording, whichever way it is asked (portal, API): who in the organisation is
recorded, and how, changed by an admin and audited."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from asterisk_rec.accounts.access import only_admins
from asterisk_rec.accounts.audit import AuditLog
from asterisk_rec.accounts.store import Account
from asterisk_rec.directory.models import RecordingMode, User
from asterisk_rec.directory.store import DirectoryStore
from asterisk_rec.errors import InvalidInput


class RecordingSettingsService:
    """Settings > Call recording: who in the organisation is recorded, and how."""

    def __init__(self, directory: DirectoryStore, audit: AuditLog) -> None:
        self.directory = directory
        self.audit = audit

    async def users(self, account: Account) -> list[User]:
        only_admins(account)
        return await self.directory.users(account.organisation_name)

    async def recorded(self, account: Account) -> list[User]:
        return [u for u in await self.users(account) if u.recording_mode is not RecordingMode.OFF]

    async def set_mode(self, account: Account, extension: str, mode: str, remote_address: str) -> User:
        """``+`` (always or on demand) and ``x`` (off) in Settings."""
        return await self.set_recording(account, extension, mode, {}, remote_address)

    async def set_forwarding(self, account: Account, extension: str, changes: dict[str, Any],
                             remote_address: str) -> User:
        """Settings > Call forwarding: each condition's destination ("" off, left out: as it is) and the
        no-answer time, audited."""
        only_admins(account)
        before = await self.directory.user(account.organisation_name, extension)
        user = await self.directory.set_forwarding(account.organisation_name, extension, **changes)
        await self.audit.write(account, account.organisation_id, "forwarding_set", f"user {extension}",
                               {"from": asdict(before.forwarding), "to": asdict(user.forwarding)}, remote_address)
        return user

    async def set_recording(self, account: Account, extension: str, mode: str | None,
                            switches: dict[str, bool | None], remote_address: str) -> User:
        """The mode (None: as it is) and which of the user's calls are recorded (``RecordingScope``'s
        switches; None or left out: as they are), audited as one change."""
        only_admins(account)
        if mode is not None and mode not in ("always", "on_demand", "off"):
            raise InvalidInput(f"recording {mode!r}: expected always, on_demand or off")
        before = await self.directory.user(account.organisation_name, extension)
        user = await self.directory.set_recording(account.organisation_name, extension, mode, **switches)
        details: dict[str, object] = {"from": before.recording_mode.value, "to": user.recording_mode.value}
        if user.recording_scope != before.recording_scope:
            details |= {"calls_from": list(before.recording_scope.switched_on),
                        "calls_to": list(user.recording_scope.switched_on)}
        await self.audit.write(account, account.organisation_id, "recording_set", f"user {extension}", details,
                               remote_address)
        return user
